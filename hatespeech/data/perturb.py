"""Disguised text, as people write it to slip past a filter: typos, look-alike characters, split and merged words.

One library does it all: Meta's AugLy (``augly.text``), chosen over nlpaug's character augmenters
because its functions are the disguises HateCheck tests (``spell_char_swap``/``char_del`` ->
``simulate_typos``, ``spell_leet`` -> ``replace_similar_chars``, ``spell_space_add`` ->
``split_words``, ``spell_space_del`` -> ``merge_words``), and it runs nlpaug underneath where that
fits. AugLy has no emoji insertion, so emoji are left to the HatemojiBuild source.

Used twice, with the same function: at training (``--augment_probability P``: each training row, of
either label, is disguised with probability P, so that "disguised" never means "hate") and in the
panel (every validation row disguised with :data:`PANEL_SEED`, so every model meets the same text).
Each row's randomness comes from ``(seed, row index)`` alone: repeatable from ``run_config.yaml``.
"""

import random
import re
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np

PANEL_SEED = 20211  # fixed once: the perturbed validation text every model is scored on
# Handles and links stay intact: the tweet normaliser maps them to @user / http, a disguise would hide them.
_KEPT = re.compile(r"(@\S+|https?://\S+|\bhttp\b)")


def _disguises():
    import augly.text as augly_text  # imported on first use: it loads nlpaug

    return (
        lambda text: augly_text.simulate_typos(text, aug_word_p=0.3, typo_type="charmix"),
        lambda text: augly_text.simulate_typos(text, aug_word_p=0.3, typo_type="misspelling"),
        lambda text: augly_text.replace_similar_chars(text, aug_word_p=0.3, aug_char_p=0.3),
        lambda text: augly_text.split_words(text, aug_word_p=0.3),
        lambda text: augly_text.merge_words(text, aug_word_p=0.3),
    )


@contextmanager
def _seeded(seed: str):
    """AugLy draws from the global ``random`` and ``numpy.random``: seed both, and put them back after."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    rng = random.Random(seed)
    random.seed(rng.getrandbits(64))
    np.random.seed(rng.getrandbits(32))
    try:
        yield rng
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def disguise(text: str, seed: str, disguises=None) -> str:
    """``text`` with one disguise, chosen and applied with randomness from ``seed`` alone."""
    disguises = disguises or _disguises()
    with _seeded(seed) as rng:
        apply = disguises[rng.randrange(len(disguises))]
        parts = _KEPT.split(text)  # odd positions: handles and links, kept as they are
        out = [part if index % 2 else _keeping_edges(part, apply) for index, part in enumerate(parts)]
    return "".join(out)


def _keeping_edges(part: str, apply) -> str:
    """``apply`` to the words of ``part``; the spaces around them (next to a kept handle) stay."""
    core = part.strip()
    if not core:
        return part
    start = part.index(core)
    return part[:start] + apply(core) + part[start + len(core) :]


def disguise_all(texts: Sequence[str], seed: int) -> list[str]:
    """Every text disguised (the panel's perturbed validation splits)."""
    disguises = _disguises()
    return [disguise(text, f"{seed}-{index}", disguises) for index, text in enumerate(texts)]


def disguise_some(texts: Sequence[str], probability: float, seed: int) -> tuple[list[str], int]:
    """Each text disguised with ``probability``, whatever its label; also how many were."""
    if not 0 <= probability <= 1:
        raise ValueError(f"--augment_probability must be between 0 and 1, got {probability}")
    chooser, disguises = random.Random(f"{seed}-augment"), _disguises()
    out, changed = [], 0
    for index, text in enumerate(texts):
        if chooser.random() < probability:
            text, changed = disguise(text, f"{seed}-augment-{index}", disguises), changed + 1
        out.append(text)
    return out, changed
