"""Linear probing before fine-tuning (LP-FT, Kumar et al., ICLR 2022).

Fine-tuning with a randomly initialised head distorts the pretrained features while the head is
still wrong, which hurts out-of-distribution accuracy; fitting the head first on frozen features
(here: a logistic regression on the pooler output the head sees) and then fine-tuning limits
that distortion. The features of the frozen encoder are computed once per process and reused
by every trial of a search.
"""

import logging

import numpy as np
import torch
from datasets import Dataset
from sklearn.linear_model import LogisticRegression
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, PreTrainedModel

from hatespeech.inference.classifier import resolve_backend

logger = logging.getLogger(__name__)

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_supported(model: PreTrainedModel) -> None:
    """Linear probing here fits BERT-style heads: one Linear layer on the encoder's pooler output."""
    if not isinstance(getattr(model, "classifier", None), torch.nn.Linear):
        raise ValueError(f"--linear_probe needs a BERT-style head (one Linear layer); {type(model).__name__} has none")


def pooled_features(model: PreTrainedModel, dataset: Dataset, tokenizer, batch_size: int = 128) -> np.ndarray:
    """The frozen encoder's pooler output for every example, in dataset order."""
    columns = [c for c in MODEL_INPUTS if c in dataset.column_names]
    loader = DataLoader(
        dataset.select_columns(columns), batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer)
    )
    device = next(model.parameters()).device
    precision = resolve_backend("auto", device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    features = []
    model.eval()
    with torch.inference_mode(), autocast:
        for batch in loader:
            outputs = model.base_model(**{k: v.to(device) for k, v in batch.items()})
            if outputs.pooler_output is None:
                raise ValueError(f"--linear_probe needs an encoder with a pooler; {type(model).__name__} has none")
            features.append(outputs.pooler_output.float().cpu())
    return torch.cat(features).numpy()


def fit_probe(features: np.ndarray, labels: np.ndarray, c: float, seed: int) -> LogisticRegression:
    """The logistic regression on frozen features that the head starts from."""
    probe = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(features, labels)
    logger.info("Linear probe (C=%g): train accuracy %.4f", c, probe.score(features, labels))
    return probe


def set_head(model: PreTrainedModel, probe: LogisticRegression) -> None:
    """Make the 2-way head compute the probe: softmax over (-z/2, z/2) is sigmoid(z), z = w.x + b."""
    weight = torch.tensor(probe.coef_[0], dtype=torch.float32)
    bias = float(probe.intercept_[0])
    with torch.no_grad():
        model.classifier.weight.copy_(torch.stack([-weight / 2, weight / 2]))
        model.classifier.bias.copy_(torch.tensor([-bias / 2, bias / 2]))
