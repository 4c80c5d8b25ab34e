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
import string

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


# --- De-obfuscation (--deobfuscate): disguised spellings undone before the model reads the text ------------
# Rules fixed before rule 5's round 3 (configs/leave_source_out_round3.yaml); applied after the tweet rules, in
# order, each a plain (pattern, literal replacement): the tokenizers library's Replace has no backreferences.
_LETTER = "[A-Za-z]"
_WORD = "[A-Za-z0-9'’]"  # what a word is made of, apostrophes included ("don't c u" is no spelled word)
_SEPARATOR = "[ .*_-]"  # what splits a word into single letters: "j e w s", "h.a.t.e", "k-i-l-l"
_SINGLE_BEFORE = f"(?<={_LETTER})(?<!{_WORD}{_LETTER})"  # a one-letter "word" just before
_SINGLE_AFTER = f"(?={_LETTER}(?!{_WORD}))"  # a one-letter "word" just after
_THIRD_SINGLE = (  # ... and a third one, before or after: runs of two ("I a") are ordinary text
    f"(?:(?<={_LETTER}{_SEPARATOR}{_LETTER})(?<!{_WORD}{_LETTER}{_SEPARATOR}{_LETTER})"
    f"|(?={_SEPARATOR}{_LETTER}{_SEPARATOR}{_LETTER}(?!{_WORD})))"
)
# Digits read as letters inside words: one or two of them between two letters of the same case ("h4te",
# "j3ws", "g00d", "N1GG3R"); "mp3", "2nd", "10k", "covid19", "4ever", "#Dance4All" and ordinals
# glued to a word ("TRUTH4th") keep their digits; upper-case codes such as "H1N1" or "#WWG1WGA" do not.
LOOK_ALIKES = {"4": "a", "3": "e", "1": "i", "0": "o", "5": "s", "7": "t"}
_LOOK_ALIKE = "[" + "".join(LOOK_ALIKES) + "]"
_ORDINAL = "(?!st|nd|rd|th)"
# Letters whose runs of three are words of their own: KKK, www, xxx, and the Roman III.
_RUNS_KEPT = "kKwWxXI"


def _inside_word(digit: str) -> str:
    alternatives = []
    for case in ("[a-z]", "[A-Z]"):
        alternatives += [f"(?<={case}){digit}{_ORDINAL}(?={case})",
                         f"(?<={case}){digit}(?={_LOOK_ALIKE}{case})",
                         f"(?<={case}{_LOOK_ALIKE}){digit}{_ORDINAL}(?={case})"]  # fmt: skip
    return "|".join(alternatives)


DEOBFUSCATION_RULES = (
    # Invisible characters between letters: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen
    # (between emoji a zero-width joiner builds one emoji: left alone).
    (f"(?<={_LETTER})[\u200b\u200c\u200d\u2060\ufeff\u00ad]+(?={_LETTER})", ""),
    # Single letters split by single separators, in runs of three or more, joined.
    (f"{_SINGLE_BEFORE}{_THIRD_SINGLE}{_SEPARATOR}{_SINGLE_AFTER}", ""),
    *((_inside_word(digit), letter) for digit, letter in LOOK_ALIKES.items()),
    # "!" for "i" between lower-case letters ("n!gga"), not before a link ("them!http" is punctuation).
    ("(?<=[a-z])!(?!http)(?=[a-z])", "i"),
    # "$" for "s" at the start or inside a lower-case word ("$lut", "mu$lim"); "$5" and "$AAPL" stay.
    ("(?<=[a-z])\\$(?=[a-z])|(?<![A-Za-z0-9$])\\$(?=[a-z])", "s"),
    # Runs of three or more of one letter shortened to two ("haaaate" -> "haate"; "good" and "too" stay).
    ("|".join(f"(?<={c}{c}){c}+" for c in string.ascii_letters if c not in _RUNS_KEPT), ""),
)
_DEOBFUSCATION = tuple((re.compile(pattern), replacement) for pattern, replacement in DEOBFUSCATION_RULES)


def deobfuscate(text: str) -> str:
    """Undo common disguises of words (:data:`DEOBFUSCATION_RULES`); ordinary text stays as it is."""
    for pattern, replacement in _DEOBFUSCATION:
        text = pattern.sub(replacement, text)
    return text


def normalize_tweet(text: str) -> str:
    """Map links to ``http`` and handles to ``@user``, collapse whitespace and trim, as TweetEval does."""
    for pattern, replacement in _COMPILED:
        text = pattern.sub(replacement, text)
    return text


def tweet_normalizer(deobfuscated: bool = False):
    """The rules (and with ``deobfuscated`` the de-obfuscation after them) as a ``tokenizers`` normaliser."""
    from tokenizers import normalizers

    return normalizers.Sequence(_replacements(NORMALIZATION_RULES + (DEOBFUSCATION_RULES if deobfuscated else ())))


def _replacements(rules) -> list:
    from tokenizers import Regex, normalizers

    return [normalizers.Replace(Regex(pattern), replacement) for pattern, replacement in rules]


def carries_tweet_normalizer(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer applies the rules itself (a model saved by this project with them)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or backend.normalizer is None:
        return False
    # The handle rule is plain ASCII without escapes, so it reads the same in the tokenizer's JSON.
    return f'"{_HANDLE_RULE[0]}"' in backend.to_str()


def carries_deobfuscation(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer undoes disguises itself (a model trained with ``--deobfuscate``)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    # The repeated-letter rule is plain ASCII too.
    return backend is not None and f'"{DEOBFUSCATION_RULES[-1][0]}"' in backend.to_str()


def with_tweet_normalizer(
    tokenizer: PreTrainedTokenizerBase, max_length: int, deobfuscated: bool = False
) -> PreTrainedTokenizerBase:
    """A fast tokenizer that normalises tweets (and with ``deobfuscated`` undoes disguises) before its own
    normaliser and truncates at ``max_length``.

    It is saved as a generic tokenizers-backed class: model-specific classes (``BertTokenizer``)
    rebuild their normaliser from their settings when loaded and would drop the rules.
    """
    from copy import deepcopy

    from tokenizers import normalizers
    from transformers import PreTrainedTokenizerFast

    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{type(tokenizer).__name__} is not a fast tokenizer: cannot carry the tweet rules")
    backend = deepcopy(tokenizer.backend_tokenizer)
    steps = [] if carries_tweet_normalizer(tokenizer) else _replacements(NORMALIZATION_RULES)
    if deobfuscated and not carries_deobfuscation(tokenizer):
        steps += _replacements(DEOBFUSCATION_RULES)
    if steps:
        backend.normalizer = normalizers.Sequence(steps + ([backend.normalizer] if backend.normalizer else []))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=max_length,
        model_input_names=list(tokenizer.model_input_names),
        padding_side=tokenizer.padding_side,
        **tokenizer.special_tokens_map,
    )
