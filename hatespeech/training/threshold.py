"""A decision threshold chosen on validation macro-F1 and folded into the classification head.

Macro-F1 depends on where the hate / not-hate line is drawn, and 0.5 is not necessarily the best
place for a fine-tuned model. The threshold t with the best validation macro-F1 goes into the head's
bias (hate logit minus log(t / (1 - t))), so argmax, ``pipeline()`` and every front end apply it
with no extra configuration, and the probabilities they report cross 0.5 exactly at the old t.
"""

import logging
import math

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import PreTrainedModel

from hatespeech import HATE
from hatespeech.evaluation.metrics import source_macro_f1

logger = logging.getLogger(__name__)

GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def best_threshold(labels: np.ndarray, hate_probabilities: np.ndarray, sources=None) -> float:
    """The hate-probability threshold on GRID with the best macro-F1 (ties: the one nearest 0.5); with
    ``sources``, the best mean of the sources' macro-F1, the rule that selects multi-source models."""

    def quality(threshold: float) -> float:
        predicted = (hate_probabilities >= threshold).astype(int)
        if sources is None:
            return f1_score(labels, predicted, average="macro")
        return source_macro_f1(labels, predicted, sources)["mean"]

    scores = np.array([quality(t) for t in GRID])
    candidates = GRID[scores == scores.max()]
    return float(candidates[np.argmin(np.abs(candidates - 0.5))])


def logit_offset(threshold: float) -> float:
    """What to subtract from the hate logit so that p_hate >= threshold becomes argmax."""
    return math.log(threshold / (1 - threshold))


def shift_logits(logits: np.ndarray, threshold: float) -> np.ndarray:
    """Logits as the head computes them once ``threshold`` is folded in."""
    shifted = np.array(logits, dtype=np.float64)
    shifted[:, HATE] -= logit_offset(threshold)
    return shifted


def fold_into_head(model: PreTrainedModel, threshold: float) -> None:
    """Move ``threshold`` into the bias of the head's last Linear layer."""
    head = getattr(model, "classifier", None)
    head = getattr(head, "out_proj", head)  # RoBERTa-style heads end in out_proj
    if not isinstance(head, torch.nn.Linear) or head.bias is None:
        raise ValueError(f"--tune_threshold needs a head ending in a Linear layer with a bias; {type(model).__name__}")
    with torch.no_grad():
        head.bias[HATE] -= logit_offset(threshold)
    logger.info("Decision threshold %.2f (chosen on validation macro-F1) folded into the head's bias", threshold)
