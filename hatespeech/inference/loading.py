"""Loading a trained model's parts, each checked: the tokenizer (and that it belongs to the model), the config, the
PyTorch weights. Every failure is one :class:`ModelError` line, whichever library raised it."""

from safetensors import SafetensorError
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from hatespeech.errors import first_line
from hatespeech.modeling import tokenizer_fingerprint

# Words every English vocabulary knows: a tokenizer that maps all of them to [UNK] is not the model's.
_PROBE_TEXT = "the people and you are not here"


class ModelError(RuntimeError):
    """A model that cannot be served: missing, incomplete or inconsistent; the message is one line."""


def load_tokenizer(model: str, revision: str | None = None):
    """The model's tokenizer (:class:`ModelError` when it is missing or cannot be read)."""
    # A half-written file (a copy or download cut short) fails inside the tokenizers or safetensors library:
    # name the part that failed, in one line.
    try:
        tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
    except OSError as err:  # no such folder or repo, or no tokenizer in it
        raise ModelError(f"cannot load a model from {model!r}: {first_line(err)}") from None
    except Exception as err:  # JSON errors, or the tokenizers library's own type
        raise ModelError(f"{model}: the tokenizer files (tokenizer.json, tokenizer_config.json) cannot be read "
                         f"({first_line(err)})") from None  # fmt: skip
    return tokenizer


def load_model_and_tokenizer(model: str, revision: str | None = None):
    """Tokenizer and classification model, checked to belong together (:class:`ModelError` otherwise)."""
    tokenizer = load_tokenizer(model, revision)
    try:
        network = AutoModelForSequenceClassification.from_pretrained(model, revision=revision)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"cannot load a model from {model!r}: {first_line(err)}") from None
    except SafetensorError as err:
        raise ModelError(
            f"{model}: model.safetensors cannot be read, it may be cut short ({first_line(err)})"
        ) from None
    check_tokenizer(tokenizer, network.get_input_embeddings().num_embeddings, model, network.config)
    return tokenizer, network


def load_config(model: str, revision: str | None = None):
    """The model's configuration alone (an exported engine needs no PyTorch weights)."""
    try:
        return AutoConfig.from_pretrained(model, revision=revision)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"cannot load a model from {model!r}: {first_line(err)}") from None


def check_tokenizer(tokenizer, vocab_size: int, name: str, config=None) -> None:
    """Refuse a tokenizer that is missing (every word unknown), larger than the model's vocabulary, or, for a
    model saved with a fingerprint of its tokenizer (``config.tokenizer_fingerprint``), another tokenizer."""
    if len(tokenizer) > vocab_size:
        raise ModelError(
            f"{name}: the tokenizer has {len(tokenizer)} tokens but the model embeds {vocab_size}; "
            "they do not belong together"
        )
    ids = tokenizer(_PROBE_TEXT, add_special_tokens=False)["input_ids"]
    if not ids or (tokenizer.unk_token_id is not None and all(i == tokenizer.unk_token_id for i in ids)):
        raise ModelError(
            f"{name}: the tokenizer knows no ordinary word (tokenizer files missing or wrong); "
            "save the tokenizer with the model"
        )
    expected = getattr(config, "tokenizer_fingerprint", None)
    if expected and tokenizer_fingerprint(tokenizer) != expected:
        raise ModelError(
            f"{name}: the tokenizer is not the one the model was trained with (its vocabulary "
            "differs from the fingerprint in config.json); save the run's own tokenizer with it"
        )
