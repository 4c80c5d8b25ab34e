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
| implicit_hate (``implicit_hate_v1_stg1_posts.tsv``) | ``class`` implicit_hate, explicit_hate | not_hate | - | seeded |
| hatemoji_build (``{train,validation,test}.csv``) | ``label_gold`` 1 | 0 | - | official, by pair |
| dynahate (``dynahate_v0.2.3.csv``) | ``label`` 1 | 0 | - | official (``split``: train / dev / test) |
| redditbias (``reddit_comments_*.csv``) | ``bias_sent`` 1 (not female) | 0 | others | fixed, by comment |
| intervention (``gab.csv``, ``reddit.csv``) | - | every reply | ``n/a``; repeats | fixed, by thread |
| edos (``edos_labelled_aggregated.csv``) | ``label_sexist`` sexist | not sexist | HateCheck cases | official |
| hatecheck (``test_suite_cases.csv``) | ``label_gold`` hateful | non-hateful | - | test only |
| Hub data set (``--hub_sources``) | ``hate`` values | any other value | ``drop`` values | ``splits``, else seeded |

HateXplain's official splits come from ``post_id_divisions.json``; seeded splits (80/10/10) are
stratified by label and depend only on the file and ``--source_split_seed``, so a run repeats
exactly from its ``run_config.yaml``. HatemojiBuild pairs each entry with a minimal perturbation
(``matched_id``, often of the other label); a pair is kept in its original entry's official split.
RedditBias and the intervention replies are text that names a group without attacking it (and, for RedditBias,
the same kind of text stating a derogatory stereotype): their fixed splits hash the comment id (the text where a
file has none) or the thread, so a comment or a thread never spans two splits, whatever the seed.
HateCheck is a functional test suite: it is never a training
or validation source (``parse_source`` refuses it). A bad row stops with the file and line, as the
TweetEval loader does (for a Hub data set: the data set, split and row).

Users with network can add any Hub data set by name in a YAML catalog (``--hub_sources``), e.g.
``configs/hub_sources.yaml``::

    davidson-hub:                          # the name --sources uses (with an optional :cap)
      dataset: tdavidson/hate_speech_offensive
      text_column: tweet
      label_column: class
      hate: ["hate speech"]                # label values (or ClassLabel names) that mean hate
      drop: []                             # values left out; every other value is not-hate
      # config, revision: as load_dataset takes them
      # splits: {train: train, validation: validation, test: test}   # the data set's own split names;
      #                                    # without them every row gets the seeded 80/10/10 split
"""

import ast
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from hatespeech.data.readers import DataError, csv_rows, hub_dataset
from hatespeech.errors import first_line
from hatespeech.text import normalize_tweet

SPLITS = ("train", "validation", "test")
TEST_SUITES = ("hatecheck",)


# One error for every bad input of the data stage: a source file that cannot be used, or a source that cannot be
# used for training, is a DataError like a bad TweetEval or CSV file.
SourceError = DataError


@dataclass(frozen=True)
class Row:
    text: str
    label: int
    split: str | None  # None: the source has no official split
    group: str = ""  # HateCheck's functionality
    targets: tuple[str, ...] = ()  # the identities a HateCheck case or a HatemojiBuild entry is about


def _bad(path: Path, line: int, why: str) -> DataError:
    return DataError(f"{path}:{line}: {why}")


def read_davidson(folder: Path) -> Iterator[Row]:
    path = folder / "labeled_data.csv"
    for line, row in csv_rows(path, ("class", "tweet")):
        if row["class"] not in ("0", "1", "2"):
            raise _bad(path, line, f"class must be 0, 1 or 2, got {row['class']!r}")
        yield Row(row["tweet"], int(row["class"] == "0"), None)


def read_hatexplain(folder: Path) -> Iterator[Row]:
    path, divisions_path = folder / "092-HateXplain.csv", folder / "post_id_divisions.json"
    split_of = _official_splits(divisions_path)
    for line, row in csv_rows(path, ("text", "category")):
        post, category = row.get("") or row.get("post_id"), row["category"]
        if category not in ("0", "1", "2", "3") or not post:
            raise _bad(path, line, f"category must be 0-3 with a post id, got {category!r}")
        if category == "3" or post not in split_of:  # no majority label; posts outside the official splits
            continue
        yield Row(row["text"], int(category == "1"), split_of[post])


def _official_splits(path: Path) -> dict[str, str]:
    """HateXplain's ``post_id_divisions.json``: post id -> split."""
    try:
        divisions = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SourceError(f"{path}: {err.strerror}") from None
    except ValueError as err:
        raise SourceError(f"{path}: not valid JSON ({err})") from None
    keys = {"train": "train", "val": "validation", "test": "test"}
    if not isinstance(divisions, dict) or not all(isinstance(divisions.get(key), list) for key in keys):
        raise SourceError(f"{path}: expected an object with lists of post ids under {list(keys)}")
    return {str(post): name for key, name in keys.items() for post in divisions[key]}


def read_ethos(folder: Path) -> Iterator[Row]:
    path = folder / "Ethos_Dataset_Binary.csv"
    for line, row in csv_rows(path, ("comment", "isHate"), delimiter=";"):
        try:
            share = float(row["isHate"])
        except ValueError:
            share = float("nan")
        if not 0 <= share <= 1:  # NaN too: a missing share must not read as not-hate
            raise _bad(path, line, f"isHate must be a share between 0 and 1, got {row['isHate']!r}")
        yield Row(row["comment"], int(share >= 0.5), None)


def read_mlma(folder: Path) -> Iterator[Row]:
    path = folder / "en_dataset_with_stop_words.csv"
    for line, row in csv_rows(path, ("tweet", "sentiment")):
        if not row["sentiment"]:
            raise _bad(path, line, "needs a tweet and its sentiment labels")
        yield Row(row["tweet"], int("hateful" in row["sentiment"].split("_")), None)


def read_stormfront(folder: Path) -> Iterator[Row]:
    path = folder / "stormfront.csv"
    for line, row in csv_rows(path, ("text", "label")):
        label = row["label"]
        if label not in ("hate", "noHate", "relation", "idk/skip"):
            raise _bad(path, line, f"label must be hate, noHate, relation or idk/skip, got {label!r}")
        if label in ("hate", "noHate"):
            yield Row(row["text"], int(label == "hate"), None)


def read_implicit_hate(folder: Path) -> Iterator[Row]:
    path = folder / "implicit_hate_v1_stg1_posts.tsv"
    for line, row in csv_rows(path, ("post", "class"), delimiter="\t"):
        if row["class"] not in ("not_hate", "implicit_hate", "explicit_hate"):
            raise _bad(path, line, f"class must be not_hate, implicit_hate or explicit_hate, got {row['class']!r}")
        yield Row(row["post"], int(row["class"] != "not_hate"), None)


def read_hatemoji_build(folder: Path) -> Iterator[Row]:
    """The official split files, with each pair (an original entry and its perturbation, ``matched_id``) in
    the original's split: the files put 982 of the 2,956 pairs in two splits, so a model would train on one
    half of a contrast pair and be scored on the other (4,750 / 572 / 590 rows instead of 4,728 / 591 / 593)."""
    entries = {}  # entry id -> (row, official split, file, line)
    for split in SPLITS:
        path = folder / f"{split}.csv"
        for line, row in csv_rows(path, ("entry_id", "text", "label_gold", "target", "set", "matched_id")):
            if row["label_gold"] not in ("0", "1") or row["set"] not in ("original", "perturbation"):
                raise _bad(path, line, f"label_gold must be 0 or 1 and set original or perturbation, got "
                           f"{row['label_gold']!r} / {row['set']!r}")  # fmt: skip
            entries[row["entry_id"]] = (row, split, path, line)
    for row, _official, path, line in entries.values():
        original = row if row["set"] == "original" else entries.get(row["matched_id"], (None,))[0]
        if original is None or original["set"] != "original":
            raise _bad(path, line, f"perturbation {row['entry_id']} has no original entry {row['matched_id']!r}")
        pair_split = entries[original["entry_id"]][1]
        yield Row(row["text"], int(row["label_gold"]), pair_split, targets=_hatemoji_targets(row["target"], path, line))


def _hatemoji_targets(value: str, path: Path, line: int) -> tuple[str, ...]:
    """HatemojiBuild's ``target``, a Python list literal such as ``['mus', 'arab']``; ``none``: no identity."""
    try:
        targets = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        targets = None
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise _bad(path, line, f"target must be a list of identity codes like ['bla'], got {value!r}")
    return tuple(t for t in targets if t != "none")


def read_dynahate(folder: Path) -> Iterator[Row]:
    """DynaHate (Vidgen et al. 2021): entries written to fool models, many paired with a minimal contrast; the
    authors' own train / dev / test split."""
    path = folder / "dynahate_v0.2.3.csv"
    splits = {"train": "train", "dev": "validation", "test": "test"}
    for line, row in csv_rows(path, ("text", "label", "split")):
        if row["label"] not in ("0", "1") or row["split"] not in splits:
            raise _bad(path, line, f"label must be 0 or 1 and split train, dev or test, got "
                       f"{row['label']!r} / {row['split']!r}")  # fmt: skip
        yield Row(row["text"], int(row["label"]), splits[row["split"]])


# RedditBias' files by group, and whether a row that states the stereotype (``bias_sent`` 1) is hate: for these four
# groups it states a derogatory stereotype ("jews are greedy"); the female file's are occupational clichés.
REDDITBIAS_GROUPS = {"race_black": True, "religion1_jews": True, "religion2_muslims": True,
                     "orientation_lgbtq": True, "gender_female": False}  # fmt: skip
REDDITBIAS_MAC_ROMAN = {"religion1_jews"}  # the authors saved this one file in Mac Roman (b"\xd5" is ’)


def read_redditbias(folder: Path) -> Iterator[Row]:
    """RedditBias (Barikeri et al. 2021): Reddit comments naming a group beside a stereotype word. A comment in
    two files (one naming Jews and Muslims) is kept once, in one split, with its label in the first file of
    :data:`REDDITBIAS_GROUPS` (4 of the 9,426 kept disagree between files; fixed with round 4, so kept as is)."""
    seen: set[str] = set()
    for group, stereotype_is_hate in REDDITBIAS_GROUPS.items():
        path = folder / f"reddit_comments_{group}_processed_phrase_annotated.csv"
        encoding = "mac_roman" if group in REDDITBIAS_MAC_ROMAN and not _is_utf8(path) else "utf-8"
        for line, row in csv_rows(path, ("comment", "bias_sent"), encoding=encoding):
            label = {"0": 0, "1": 1 if stereotype_is_hate else None}.get(row["bias_sent"].strip())
            if label is None:  # not annotated, a free-text note, or a cliché about women
                continue
            if not row["comment"].strip():
                raise _bad(path, line, "an annotated row needs its comment")
            key = _dedup_key(row["comment"])
            if key not in seen:
                seen.add(key)
                yield Row(row["comment"], label, fixed_split(row.get("id") or key))


def read_intervention(folder: Path) -> Iterator[Row]:
    """Replies written to counter hateful Gab and Reddit threads (Qian et al. 2019), all non-hateful. A thread's
    replies stay in one split; a reply repeated (many echo a moderator's phrasing) is kept once."""
    seen: set[str] = set()
    for name in ("gab", "reddit"):
        path = folder / f"{name}.csv"
        for line, row in csv_rows(path, ("id", "response")):
            if row["response"].strip() == "n/a":  # a thread without hate, so without replies
                continue
            try:
                replies = ast.literal_eval(row["response"])
            except (ValueError, SyntaxError):
                replies = None
            if not isinstance(replies, list) or not all(isinstance(reply, str) for reply in replies):
                raise _bad(path, line, f"response must be a list of replies like ['...'] or n/a, got "
                           f"{row['response'][:60]!r}")  # fmt: skip
            split = fixed_split(f"{name}:{_first_comment(row['id'])}")
            for reply in replies:
                key = _dedup_key(reply)
                if key and key not in seen:
                    seen.add(key)
                    yield Row(reply, 0, split)


def _first_comment(ids: str) -> str:
    """A thread's first comment id, from its numbered list ("1. 39869714\\n2. \\t39848775")."""
    words = ids.split()
    return words[1] if len(words) > 1 and words[0] == "1." else ids.strip()


def read_edos(folder: Path) -> Iterator[Row]:
    """EDOS (Kirk et al. 2023): Gab and Reddit posts, sexist or not, in the task's splits. Posts that are also a
    HateCheck case (one, "I hate women.") are dropped: the test suite must stay unseen."""
    path = folder / "edos_labelled_aggregated.csv"
    splits = {"train": "train", "dev": "validation", "test": "test"}
    suite = _hatecheck_texts(folder.parent / "hatecheck")
    for line, row in csv_rows(path, ("text", "label_sexist", "split")):
        if row["label_sexist"] not in ("sexist", "not sexist") or row["split"] not in splits:
            raise _bad(path, line, f"label_sexist must be sexist or not sexist and split train, dev or test, got "
                       f"{row['label_sexist']!r} / {row['split']!r}")  # fmt: skip
        if normalize_tweet(row["text"]) not in suite:
            yield Row(row["text"], int(row["label_sexist"] == "sexist"), splits[row["split"]])


def _hatecheck_texts(folder: Path) -> set[str]:
    """HateCheck's cases, normalised; none without the suite's folder (a source copied on its own)."""
    if not (folder / "test_suite_cases.csv").is_file():
        return set()
    return {normalize_tweet(row.text) for row in read_hatecheck(folder)}


def _is_utf8(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return False
    except OSError:  # missing: csv_rows says so
        pass
    return True


def _dedup_key(text: str) -> str:
    """Lower case, letters and digits only: "Please don't use slurs." and "please dont use slurs" are one text."""
    return " ".join(re.findall(r"[^\W_]+", normalize_tweet(text).lower().replace("'", "").replace("’", "")))


def fixed_split(key: str, fractions=(0.8, 0.1, 0.1)) -> str:
    """80/10/10 by a hash of ``key`` (a comment or thread id): the same key always lands in the same split."""
    position = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 16**8
    return "train" if position < fractions[0] else "validation" if position < sum(fractions[:2]) else "test"


def read_hatecheck(folder: Path) -> Iterator[Row]:
    path = folder / "test_suite_cases.csv"
    for line, row in csv_rows(path, ("functionality", "test_case", "label_gold")):
        if row["label_gold"] not in ("hateful", "non-hateful"):
            raise _bad(path, line, f"label_gold must be hateful or non-hateful, got {row['label_gold']!r}")
        target = row.get("target_ident") or ""
        yield Row(row["test_case"], int(row["label_gold"] == "hateful"), "test", row["functionality"],
                  (target,) if target else ())  # fmt: skip


READERS: dict[str, Callable[[Path], Iterator[Row]]] = {
    "davidson": read_davidson,
    "hatexplain": read_hatexplain,
    "ethos": read_ethos,
    "mlma": read_mlma,
    "stormfront": read_stormfront,
    "implicit_hate": read_implicit_hate,
    "hatemoji_build": read_hatemoji_build,
    "dynahate": read_dynahate,
    "redditbias": read_redditbias,
    "intervention": read_intervention,
    "edos": read_edos,
    "hatecheck": read_hatecheck,
}


@dataclass(frozen=True)
class HubSource:
    """A Hub data set declared in the ``--hub_sources`` catalog: where its text and label are, what means hate."""

    dataset: str
    text_column: str
    label_column: str
    hate: frozenset[str]
    drop: frozenset[str] = frozenset()
    config: str | None = None
    revision: str | None = None
    splits: dict[str, str] | None = None  # our split -> the data set's split


_REQUIRED = ("dataset", "text_column", "label_column", "hate")
_OPTIONAL = ("drop", "config", "revision", "splits")


def read_hub_catalog(path: Path) -> dict[str, HubSource]:
    """The named Hub sources of a YAML catalog; a bad entry stops with the file and the entry's name."""
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as err:
        raise SourceError(f"{path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise SourceError(f"{path}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(entries, dict):
        raise SourceError(f"{path}: expected a mapping of source names to their description")
    catalog = {}
    for name, entry in entries.items():
        where = f"{path}: {name!r}"
        if not isinstance(name, str):
            raise SourceError(f"{where}: a source name must be text; quote it in the YAML")
        if name in READERS or name == "tweeteval" or ":" in name:
            raise SourceError(f"{where}: the name is a built-in source or holds ':'; choose another")
        if not isinstance(entry, dict):
            raise SourceError(f"{where}: expected a mapping with {', '.join(_REQUIRED)}")
        unknown, missing = set(entry) - {*_REQUIRED, *_OPTIONAL}, [key for key in _REQUIRED if key not in entry]
        if unknown or missing:
            raise SourceError(f"{where}: unknown keys {sorted(unknown)}, missing keys {missing}; "
                              f"the keys are {list(_REQUIRED)} and optionally {list(_OPTIONAL)}")  # fmt: skip
        splits = entry.get("splits")
        if splits is not None and (not isinstance(splits, dict) or set(splits) != set(SPLITS)):
            raise SourceError(f"{where}: splits must map each of {list(SPLITS)} to a split of the data set")
        catalog[name] = HubSource(
            dataset=str(entry["dataset"]), text_column=str(entry["text_column"]),
            label_column=str(entry["label_column"]), hate=_values(entry["hate"], where),
            drop=_values(entry.get("drop"), where),
            config=entry.get("config"), revision=entry.get("revision"),
            splits={ours: str(theirs) for ours, theirs in splits.items()} if splits else None,
        )  # fmt: skip
    return catalog


def _values(value, where: str) -> frozenset[str]:
    """Label values compared as text, so ``0``, ``"0"`` and a ClassLabel's name all work in YAML."""
    values = value if isinstance(value, list) else [] if value is None else [value]
    if any(isinstance(v, (dict, list)) for v in values):
        raise SourceError(f"{where}: label values must be a list of numbers or names, got {value!r}")
    return frozenset(map(str, values))


def read_hub_source(source: HubSource) -> Iterator[Row]:
    """Rows of a Hub data set (needs the network, or the datasets cache)."""
    from datasets import ClassLabel

    loaded = hub_dataset(source.dataset, source.config, source.revision)
    # (our split, theirs); our split None: every row of every split goes to the seeded split.
    chosen = list(source.splits.items()) if source.splits else [(None, theirs) for theirs in loaded]
    seen = set()
    for ours, theirs in chosen:
        if theirs not in loaded:
            raise SourceError(f"{source.dataset} has no split {theirs!r}; it has {sorted(loaded)}")
        rows = loaded[theirs]
        for column in (source.text_column, source.label_column):
            if column not in rows.column_names:
                raise SourceError(f"{source.dataset} ({theirs}) has no column {column!r}; it has {rows.column_names}")
        feature = rows.features[source.label_column]
        names = feature.names if isinstance(feature, ClassLabel) else None
        for index, row in enumerate(rows):
            text, value = row[source.text_column], row[source.label_column]
            if not isinstance(text, str):
                raise SourceError(f"{source.dataset} ({theirs}, row {index}): {source.text_column!r} is not text")
            named = names and isinstance(value, int) and 0 <= value < len(names)  # -1: a ClassLabel's "no label"
            keys = {str(value)} | ({names[value]} if named else set())
            seen |= keys
            if keys & source.drop:
                continue
            yield Row(text, int(bool(keys & source.hate)), ours)
    if not seen & source.hate:  # a typo in `hate:` would make every row not-hate
        raise SourceError(f"{source.dataset}: no row has a hate value {sorted(source.hate)}; "
                          f"its {source.label_column!r} values are {sorted(seen)[:20]}")  # fmt: skip


class FeedbackSource:
    """Users' feedback (:mod:`hatespeech.data.feedback`) as a source: ``feedback:<folder or dataset id[@revision]>``."""

    dataset = "feedback"

    def __init__(self, location: str):
        self.location = location
        self.summary: dict | None = None  # counts and the dataset revision, once read

    def rows(self) -> Iterator[Row]:
        from hatespeech.data.feedback import locate, majority_labels, read_records

        try:
            folder, revision = locate(self.location)
            labels, counts = majority_labels(read_records(folder))
        except Exception as err:  # offline, unknown dataset, a bad line: one message
            raise SourceError(f"feedback {self.location!r}: {first_line(err)}") from None
        self.summary = {**counts, "location": self.location, "revision": revision}
        for text, label in labels.items():
            yield Row(text, label, None)


def feedback_sources(specs: list[str]) -> dict[str, FeedbackSource]:
    """The ``feedback:<location>`` entry of ``--sources``, if any (a location may hold ':' or '@')."""
    found = {spec.split(":", 1)[1] for spec in specs if spec.startswith("feedback:")}
    if len(found) > 1:
        raise SourceError(f"--sources names feedback more than once ({sorted(found)}): give one location")
    return {"feedback": FeedbackSource(found.pop())} if found else {}


def parse_source(spec: str, catalog: dict[str, HubSource] | None = None) -> tuple[str, int | None]:
    """``name`` or ``name:cap`` (at most ``cap`` training rows, a random sample) from the config;
    ``feedback:<location>`` for users' feedback (no cap)."""
    name, _, cap = spec.partition(":")
    if name == "feedback" and name in (catalog or {}):
        return name, None
    if name not in READERS and name not in (catalog or {}):
        choices = sorted({*READERS, *(catalog or {})} - set(TEST_SUITES))
        raise SourceError(f"unknown source {name!r}; choose from {choices} (TweetEval is always used)")
    if name in TEST_SUITES:
        raise SourceError(f"{name} is a test suite: it is never trained or selected on")
    if cap and not re.fullmatch(r"[0-9]*[1-9][0-9]*", cap):  # ASCII digits: str.isdigit accepts '²' and '١٢'
        raise SourceError(f"{spec!r}: the cap after ':' must be a whole number of training rows, at least 1")
    return name, int(cap) if cap else None


def load_source(root: Path, name: str, seed: int, catalog: dict[str, HubSource] | None = None) -> dict[str, list[Row]]:
    """A source's rows by split; sources without an official split get a seeded, stratified one."""
    hub_source = (catalog or {}).get(name)
    if isinstance(hub_source, FeedbackSource):
        rows = list(hub_source.rows())
    else:
        rows = list(read_hub_source(hub_source) if hub_source else READERS[name](root / name))
    if not rows:
        raise SourceError(f"{hub_source.dataset if hub_source else root / name}: no usable rows")
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
            out.append(Row(row.text, row.label, split, row.group, row.targets))
    return out
