"""Counter-speech frames (``--counter_frames P``): each hateful training row is, with probability P, also trained
inside a sentence that quotes, reports or rejects it, labelled not-hate. The row itself still trains as hate.

Why: nearly every training source pairs a group's name and a slur with the hate label, so a model learns the words
and calls counter-speech, quotes and negation hate. The intervention replies object to hate without its words
beside them; a frame shows the very same words with the opposite intent. The frames are our own generic sentences,
written for this purpose (not HateCheck's templates, which stay an unseen test suite).
Each row's frame and whether it is framed come from ``(seed, row index)`` alone: repeatable from
``run_config.yaml``.
"""

import random

FRAMES = (
    'Saying "{text}" is not okay.',
    'Someone posted "{text}" and I reported it.',
    'Can we stop with posts like "{text}"? It is hateful.',
    '"{text}" This is bigotry and I will not stay quiet about it.',
    'I cannot believe people still write things like "{text}"',
    'No. "{text}" is a lie, and a cruel one.',
    'Statements like "{text}" are how hatred spreads. Please think before you post.',
    'I was told "{text}" today. It hurt, and it is wrong.',
)


def counter_framed(texts: list[str], labels: list[int], probability: float, seed: int) -> list[tuple[int, str]]:
    """(row index, framed copy) of the hateful ``texts`` drawn with ``probability``; each copy is not-hate."""
    if not 0 <= probability <= 1:
        raise ValueError(f"--counter_frames must be between 0 and 1, got {probability}")
    framed = []
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        rng = random.Random(f"{seed}-frame-{index}")
        if label == 1 and rng.random() < probability:
            framed.append((index, rng.choice(FRAMES).format(text=text.strip())))
    return framed
