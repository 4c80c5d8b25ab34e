"""Which words moved the hate probability: exact word occlusion.

For a tweet of n words the model scores n + 1 texts in one batch: the tweet, and the tweet with each
word deleted. A word's weight is the hate probability with it minus the probability without it
(positive: it pushed towards hate). Occlusion rather than captum's integrated gradients: it needs no
gradients, so it works for every inference engine the service runs (bf16 today, int8 or ONNX
later); it measures exactly the change a moderator would see by deleting the word; and it is one
batched forward pass instead of ~50 interpolation steps. Deleting a word also deletes what it
meant in context, which is what the ERASER faithfulness measures (DeYoung et al. 2020) test
(``bench/explain.py``).

Tweets over :data:`MAX_UNITS` words are occluded in runs of neighbouring words, so an explanation
costs at most ``MAX_UNITS + 1`` classifications, in one batch.
"""

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WORD = re.compile(r"\S+")
MAX_UNITS = 48


@dataclass(frozen=True)
class WordWeight:
    word: str
    weight: float  # hate probability with the word minus without it


def word_units(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text``, joined into at most :data:`MAX_UNITS` runs."""
    spans = [match.span() for match in WORD.finditer(text)]
    size = math.ceil(len(spans) / MAX_UNITS) if spans else 1
    return [(spans[i][0], spans[min(i + size, len(spans)) - 1][1]) for i in range(0, len(spans), size)]


def without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with the character spans deleted, spaces collapsed."""
    kept, start = [], 0
    for begin, end in sorted(spans):
        kept.append(text[start:begin])
        start = end
    kept.append(text[start:])
    return " ".join("".join(kept).split())


def occluded_texts(text: str) -> tuple[list[tuple[int, int]], list[str]]:
    """The word units of ``text`` and the texts to score: the tweet, then the tweet without each unit."""
    units = word_units(text)
    return units, [text] + [without(text, [unit]) for unit in units]


def weights_from(text: str, units: list[tuple[int, int]], hate: Sequence[float]) -> list[WordWeight]:
    """Each unit's weight from the hate probabilities of ``occluded_texts`` (in that order)."""
    return [WordWeight(text[begin:end], float(hate[0] - hate[i + 1])) for i, (begin, end) in enumerate(units)]


def explain(text: str, hate_probability: Callable[[list[str]], Sequence[float]]) -> list[WordWeight]:
    """Word weights of ``text`` from a function that gives the hate probability of each of a list of texts."""
    units, texts = occluded_texts(text)
    return weights_from(text, units, hate_probability(texts))
