"""Public hate-speech data sets besides TweetEval, each read from its original file format.

Every loader yields ``(text, label, split)`` rows with the binary label hate = 1, not-hate = 0.
The mapping from each data set's own scheme, in one place:

| source | hate = 1 | not-hate = 0 | dropped | splits |
|---|---|---|---|---|
| davidson (``labeled_data.csv``) | ``class`` 0 (hate speech) | 1 (offensive), 2 (neither) | - | seeded |
| hatexplain (``092-HateXplain.csv``) | ``category`` 1 (hatespeech) | 0 (normal), 2 (offensive) | 3 (none) | official |
| ethos (``Ethos_Dataset_Binary.csv``) | ``isHate`` >= 0.5 | ``isHate`` < 0.5 | - | seeded |
| mlma (``en_dataset_with_stop_words.csv``) | "hateful" among ``sentiment`` | otherwise | - | seeded |
| stormfront (``stormfront.csv``) | ``label`` hate | noHate | relation, idk/skip | seeded |
| hatecheck (``test_suite_cases.csv``) | ``label_gold`` hateful | non-hateful | - | test only |

HateXplain's official splits come from ``post_id_divisions.json``; seeded splits (80/10/10) are
stratified by label and depend only on the file and ``--source_split_seed``, so a run repeats
exactly from its ``run_config.yaml``. HateCheck is a functional test suite: it is never a training
or validation source (``parse_source`` refuses it). A bad row stops with the file and line, as the
TweetEval loader does.
"""

import csv
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "validation", "test")
TEST_SUITES = ("hatecheck",)


class SourceError(ValueError):
    """A source file that cannot be used, or a source that cannot be used for training."""


@dataclass(frozen=True)
class Row:
    text: str
    label: int
    split: str | None  # None: the source has no official split
    group: str = ""  # HateCheck's functionality


def _csv_rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, dict]]:
    if not path.is_file():
        raise SourceError(f"{path}: not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        for row in reader:
            yield reader.line_num, row


def _bad(path: Path, line: int, why: str) -> SourceError:
    return SourceError(f"{path}:{line}: {why}")


def read_davidson(folder: Path) -> Iterator[Row]:
    path = folder / "labeled_data.csv"
    for line, row in _csv_rows(path):
        if row.get("class") not in ("0", "1", "2") or row.get("tweet") is None:
            raise _bad(path, line, f"class must be 0, 1 or 2 with a tweet, got {row.get('class')!r}")
        yield Row(row["tweet"], int(row["class"] == "0"), None)


def read_hatexplain(folder: Path) -> Iterator[Row]:
    path, divisions_path = folder / "092-HateXplain.csv", folder / "post_id_divisions.json"
    divisions = json.loads(divisions_path.read_text(encoding="utf-8"))
    split_of = {post: name for key, name in (("train", "train"), ("val", "validation"), ("test", "test"))
                for post in divisions[key]}  # fmt: skip
    for line, row in _csv_rows(path):
        post, category = row.get("") or row.get("post_id"), row.get("category")
        if category not in ("0", "1", "2", "3") or not post:
            raise _bad(path, line, f"category must be 0-3 with a post id, got {category!r}")
        if category == "3" or post not in split_of:  # no majority label; posts outside the official splits
            continue
        yield Row(row["text"], int(category == "1"), split_of[post])


def read_ethos(folder: Path) -> Iterator[Row]:
    path = folder / "Ethos_Dataset_Binary.csv"
    for line, row in _csv_rows(path, delimiter=";"):
        try:
            share = float(row["isHate"])
        except (TypeError, ValueError, KeyError):
            raise _bad(path, line, f"isHate must be a number, got {row.get('isHate')!r}") from None
        yield Row(row["comment"], int(share >= 0.5), None)


def read_mlma(folder: Path) -> Iterator[Row]:
    path = folder / "en_dataset_with_stop_words.csv"
    for line, row in _csv_rows(path):
        if not row.get("sentiment") or row.get("tweet") is None:
            raise _bad(path, line, "needs a tweet and its sentiment labels")
        yield Row(row["tweet"], int("hateful" in row["sentiment"].split("_")), None)


def read_stormfront(folder: Path) -> Iterator[Row]:
    path = folder / "stormfront.csv"
    for line, row in _csv_rows(path):
        label = row.get("label")
        if label not in ("hate", "noHate", "relation", "idk/skip"):
            raise _bad(path, line, f"label must be hate, noHate, relation or idk/skip, got {label!r}")
        if label in ("hate", "noHate"):
            yield Row(row["text"], int(label == "hate"), None)


def read_hatecheck(folder: Path) -> Iterator[Row]:
    path = folder / "test_suite_cases.csv"
    for line, row in _csv_rows(path):
        if row.get("label_gold") not in ("hateful", "non-hateful"):
            raise _bad(path, line, f"label_gold must be hateful or non-hateful, got {row.get('label_gold')!r}")
        yield Row(row["test_case"], int(row["label_gold"] == "hateful"), "test", row["functionality"])


READERS: dict[str, Callable[[Path], Iterator[Row]]] = {
    "davidson": read_davidson,
    "hatexplain": read_hatexplain,
    "ethos": read_ethos,
    "mlma": read_mlma,
    "stormfront": read_stormfront,
    "hatecheck": read_hatecheck,
}


def parse_source(spec: str) -> tuple[str, int | None]:
    """``name`` or ``name:cap`` (at most ``cap`` training rows, a random sample) from the config."""
    name, _, cap = spec.partition(":")
    if name not in READERS:
        raise SourceError(f"unknown source {name!r}; choose from {sorted(READERS)} (TweetEval is always used)")
    if name in TEST_SUITES:
        raise SourceError(f"{name} is a test suite: it is never trained or selected on")
    if cap and not cap.isdigit():
        raise SourceError(f"{spec!r}: the cap after ':' must be a whole number of training rows")
    return name, int(cap) if cap else None


def load_source(root: Path, name: str, seed: int) -> dict[str, list[Row]]:
    """A source's rows by split; sources without an official split get a seeded, stratified one."""
    rows = list(READERS[name](root / name))
    if not rows:
        raise SourceError(f"{root / name}: no usable rows")
    if rows[0].split is None:
        rows = seeded_split(rows, seed)
    by_split: dict[str, list[Row]] = {split: [] for split in SPLITS}
    for row in rows:
        by_split[row.split].append(row)
    return by_split


def seeded_split(rows: list[Row], seed: int, fractions=(0.8, 0.1, 0.1)) -> list[Row]:
    """80/10/10 per label, shuffled with ``seed``; the result depends only on the rows and the seed."""
    out = []
    for label in (0, 1):
        group = [row for row in rows if row.label == label]
        random.Random(f"{seed}-{label}").shuffle(group)
        cut_train = round(len(group) * fractions[0])
        cut_val = cut_train + round(len(group) * fractions[1])
        for index, row in enumerate(group):
            split = "train" if index < cut_train else "validation" if index < cut_val else "test"
            out.append(Row(row.text, row.label, split, row.group))
    return out
