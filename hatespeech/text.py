"""Tweet normalisation, defined once and applied two ways: in Python and inside the saved tokenizer.

TweetEval ships its text with user handles replaced by ``@user``; the same rules applied to raw
tweets keep inputs looking like training inputs. :func:`normalize_tweet` runs the rules in Python
(training data, models saved without them); :func:`with_tweet_normalizer` puts the very same
rules in front of a fast tokenizer's own normaliser, so ``tokenizer.json`` carries them and a plain
``pipeline("text-classification", model=...)`` applies them with no project code.

The patterns use explicit ASCII and whitespace classes rather than ``\\w`` or ``\\s``, whose meaning
differs between Python's ``re`` and the Oniguruma engine of the ``tokenizers`` library.
"""

import re

from transformers import PreTrainedTokenizerBase

# Python's whitespace (str.isspace): the runs a tweet's spacing collapses to one space.
_SPACE = "[\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# Twitter handles are ASCII; an @ inside a word (an e-mail address) is not a handle.
_HANDLE_RULE = ("(?<![A-Za-z0-9_@])@[A-Za-z0-9_]+", "@user")
# (pattern, replacement) in order: links, then handles, then spacing.
NORMALIZATION_RULES = (
    (f"(?:[hH][tT][tT][pP][sS]?://|[wW][wW][wW]\\.)[^{_SPACE[1:-1]}]+", "http"),
    _HANDLE_RULE,
    (f"{_SPACE}+", " "),
    ("^ | $", ""),
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in NORMALIZATION_RULES)


def normalize_tweet(text: str) -> str:
    """Map links to ``http`` and handles to ``@user``, collapse whitespace and trim, as TweetEval does."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


def tweet_normalizer():
    """The rules as a ``tokenizers`` normaliser sequence."""
    from tokenizers import Regex, normalizers

    return normalizers.Sequence(
        [normalizers.Replace(Regex(pattern), replacement) for pattern, replacement in NORMALIZATION_RULES]
    )


def carries_tweet_normalizer(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer applies the rules itself (a model saved by this project with them)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.normalizer is None:
        return False
    # The handle rule is plain ASCII without escapes, so it reads the same in the tokenizer's JSON.
    return f'"{_HANDLE_RULE[0]}"' in backend.to_str()


def with_tweet_normalizer(tokenizer: PreTrainedTokenizerBase, max_length: int) -> PreTrainedTokenizerBase:
    """A fast tokenizer that normalises tweets before its own normaliser and truncates at ``max_length``.

    It is saved as a generic tokenizers-backed class: model-specific classes (``BertTokenizer``)
    rebuild their normaliser from their settings when loaded and would drop the rules.
    """
    from copy import deepcopy

    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast

    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{type(tokenizer).__name__} is not a fast tokenizer: cannot carry the tweet rules")
    backend = deepcopy(tokenizer.backend_tokenizer)
    if not carries_tweet_normalizer(tokenizer):
        steps = [tweet_normalizer()] + ([backend.normalizer] if backend.normalizer is not None else [])
        backend.normalizer = normalizers.Sequence(steps)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=max_length,
        model_input_names=list(tokenizer.model_input_names),
        padding_side=tokenizer.padding_side,
        **tokenizer.special_tokens_map,
    )
