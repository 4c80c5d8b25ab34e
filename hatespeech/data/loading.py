"""One loader for every data source: a TweetEval folder, a Hub dataset, or CSV/JSONL files.

Whatever the source, the result is a ``datasets.DatasetDict`` with ``train``, ``validation`` and
(when available) ``test`` splits, each with a ``text`` string column and a ``label`` ClassLabel
column named after :data:`hatespeech.LABEL_NAMES`. Bad input raises :class:`DataError` with a
message that names the file and line.
"""

import logging
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Value, concatenate_datasets

from hatespeech import LABEL2ID, LABEL_NAMES
from hatespeech.data.readers import (
    DATA_DIR_ENV,
    HOW_TO_PROVIDE_DATA,
    DataError,
    csv_rows,
    hub_dataset,
    jsonl_rows,
    read_lines,
)
from hatespeech.text import normalize_tweet

logger = logging.getLogger(__name__)

FEATURES = Features({"text": Value("string"), "label": ClassLabel(names=list(LABEL_NAMES))})
# TweetEval names its validation files "val_*".
TWEETEVAL_PREFIXES = {"train": "train", "validation": "val", "test": "test"}


@dataclass
class DataArguments:
    """Where the tweets come from and how they are prepared."""

    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "Folder in TweetEval layout ({train,val,test}_text.txt, *_labels.txt, "
            f"mapping.txt). Defaults to ${DATA_DIR_ENV} when set."
        },
    )
    dataset_name: str = field(
        default="cardiffnlp/tweet_eval",
        metadata={"help": "Hub dataset id, used when no local folder or files are given."},
    )
    dataset_config: str = field(default="hate", metadata={"help": "Hub dataset configuration."})
    train_file: str | None = field(default=None, metadata={"help": "Training CSV or JSONL file."})
    validation_file: str | None = field(
        default=None, metadata={"help": "Validation CSV or JSONL file (required with --train_file)."}
    )
    test_file: str | None = field(default=None, metadata={"help": "Optional test CSV or JSONL."})
    text_column: str = field(default="text", metadata={"help": "Text column in CSV/JSONL files."})
    label_column: str = field(
        default="label",
        metadata={"help": "Label column in CSV/JSONL files: 0/1 or not-hate/hate."},
    )
    normalize_text: bool = field(
        default=True,
        metadata={"help": "Map user handles to @user, links to http and collapse whitespace."},
    )
    deobfuscate: bool = field(
        default=False,
        metadata={
            "help": "Undo disguised spellings before the model reads the text (digits for letters inside words, "
            "'j e w s', 'h.a.t.e', long letter runs; hatespeech/text.py's DEOBFUSCATION_RULES), in training and, "
            "saved inside tokenizer.json, wherever the model is used. Needs --normalize_text."
        },
    )
    max_seq_length: int = field(default=128, metadata={"help": "Truncate tweets to this many tokens."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N training tweets (quick runs)."}
    )
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Keep only the first N validation and test tweets."}
    )
    sources: list[str] = field(
        default_factory=list,
        metadata={
            "help": "More training sources besides TweetEval, each 'name' or 'name:cap' (at most cap training rows, "
            "a seeded sample): davidson, hatexplain, ethos, mlma, stormfront (see hatespeech/data/sources.py). Their "
            "validation splits join TweetEval's, and the mean of the sources' macro-F1 selects the model."
        },
    )
    sources_dir: str = field(
        default="../shared/hate_sources",
        metadata={"help": "Folder with one subfolder per source, in the original file formats."},
    )
    hub_sources: str | None = field(
        default=None,
        metadata={
            "help": "YAML catalog of Hub data sets that --sources can name (id, text and label columns, the label "
            "values that mean hate; see configs/hub_sources.yaml). Needs the network or the datasets cache."
        },
    )
    source_split_seed: int = field(default=0, metadata={"help": "Seed of the splits of sources that have none."})
    source_temperature: float | None = field(
        default=None,
        metadata={
            "help": "Temperature sampling of the training sources (after caps): each source gets a share of the "
            "training rows proportional to its size^(1/T), the total unchanged (up to rounding); small sources are "
            "repeated, large ones subsampled. Unset or 1: proportional to size (the rows as loaded). --search can "
            "sample it (source_temperature in the search space)."
        },
    )
    holdout_sources: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Sources to leave out of training (tweeteval or names of --sources): none of their rows trains, "
            "their validation rows never choose a checkpoint, and the panel records their validation scores under "
            "'holdout' (leave-source-out selection, configs/leave_source_out.yaml)."
        },
    )
    augment_probability: float = field(
        default=0.0,
        metadata={
            "help": "Disguise each training row (either label) with this probability: typos, look-alike characters, "
            "split or merged words (hatespeech/data/perturb.py, AugLy). 0: off."
        },
    )
    augment_seed: int = field(default=0, metadata={"help": "Seed of the training rows' disguises and frames."})
    counter_frames: float = field(
        default=0.0,
        metadata={
            "help": "Also train each hateful training row, with this probability, inside a sentence that quotes, "
            "reports or rejects it ('Saying \"...\" is not okay.'), labelled not-hate (hatespeech/data/frames.py). "
            "0: off."
        },
    )
    panel: bool = field(
        default=False,
        metadata={"help": "Score the evaluation panel (every source's splits and HateCheck); on with --sources."},
    )
    panel_scope: str = field(
        default="all",
        metadata={
            "help": "'all': validation and test splits, HateCheck and identities; 'validation': the validation "
            "splits alone, clean and disguised (what leave-source-out fold runs need; a third of the time).",
            "choices": ["all", "validation"],
        },
    )

    def resolved_data_dir(self) -> str | None:
        """The TweetEval folder to read: the flag, else the environment variable."""
        return self.data_dir or os.environ.get(DATA_DIR_ENV) or None


def load_splits(args: DataArguments) -> DatasetDict:
    """Load train/validation[/test] from the source that ``args`` selects."""
    if args.train_file or args.validation_file:
        splits = load_files(args.train_file, args.validation_file, args.test_file, args.text_column, args.label_column)
    elif args.resolved_data_dir():
        splits = load_tweeteval_dir(args.resolved_data_dir())
    else:
        splits = load_hub_dataset(args.dataset_name, args.dataset_config)
    splits = _truncate(splits, args.max_train_samples, args.max_eval_samples)
    if args.normalize_text:
        splits = splits.map(lambda batch: {"text": [normalize_tweet(t) for t in batch["text"]]}, batched=True)
    if args.deobfuscate and not args.normalize_text:
        raise DataError("--deobfuscate works after the tweet rules: leave --normalize_text on")
    if args.source_temperature not in (None, 1) and not args.sources:
        raise DataError("--source_temperature mixes the --sources: give --sources too, or leave it unset")
    if args.sources or args.holdout_sources:
        splits = add_sources(splits, args)
    if args.counter_frames:
        splits["train"] = with_counter_frames(splits["train"], args.counter_frames, args.augment_seed)
    if args.augment_probability:
        splits["train"] = augmented(splits["train"], args.augment_probability, args.augment_seed)
    return splits


def with_counter_frames(train: Dataset, probability: float, seed: int) -> Dataset:
    """The training split plus framed, not-hate copies of some of its hateful rows (``--counter_frames``); a copy
    keeps its row's source."""
    from hatespeech.data.frames import counter_framed

    try:
        framed = counter_framed(train["text"], train["label"], probability, seed)
    except ValueError as err:
        raise DataError(str(err)) from None
    logger.info("Framed %d of %d hateful training rows as counter-speech (--counter_frames %s)",
                len(framed), sum(train["label"]), probability)  # fmt: skip
    rows = {"text": [text for _, text in framed], "label": [0] * len(framed)}
    if "source" in train.column_names:
        sources = train["source"]  # read the column once: each train["source"] materialises all of it
        rows["source"] = [sources[index] for index, _ in framed]
    return concatenate_datasets([train, Dataset.from_dict(rows, features=train.features)])


def augmented(train: Dataset, probability: float, seed: int) -> Dataset:
    """The training split with each row disguised with ``probability`` (``--augment_probability``)."""
    from hatespeech.data.perturb import disguise_some

    try:
        texts, changed = disguise_some(train["text"], probability, seed)
    except ValueError as err:
        raise DataError(str(err)) from None
    logger.info("Disguised %d of %d training rows (--augment_probability %s)", changed, len(texts), probability)
    return train.remove_columns("text").add_column("text", texts, feature=Value("string"))


def add_sources(tweeteval: DatasetDict, args: DataArguments) -> DatasetDict:
    """TweetEval plus the configured sources, with a ``source`` column. Training rows whose normalised
    text equals a validation or test text of any source (TweetEval and HateCheck included) are dropped;
    then caps, then temperature sampling set how many training rows each source gives."""
    from hatespeech.data.sources import SourceError, load_source, parse_source

    try:
        catalog = hub_catalog(args)
        specs = [parse_source(spec, catalog) for spec in args.sources]
        repeated = sorted({name for name, _ in specs if [n for n, _ in specs].count(name) > 1})
        if repeated:
            raise SourceError(f"--sources names {repeated} more than once: give each source once, with one cap")
        loaded = {name: load_source(Path(args.sources_dir), name, args.source_split_seed, catalog) for name, _ in specs}
        hatecheck = load_source(Path(args.sources_dir), "hatecheck", args.source_split_seed)["test"]
    except (SourceError, OSError) as err:
        raise DataError(str(err)) from None

    def prepared(text: str, label: int) -> tuple[str, str, int]:
        """(text as trained, normalised text for the leakage filter, label): each text normalised once."""
        normalised = normalize_tweet(text)  # idempotent on TweetEval's already prepared texts
        return normalised if args.normalize_text else text, normalised, label

    by_source = {"tweeteval": {split: list(map(prepared, ds["text"], ds["label"])) for split, ds in tweeteval.items()}}
    for name, _ in specs:
        by_source[name] = {split: [prepared(r.text, r.label) for r in rows] for split, rows in loaded[name].items()}
    held_out = {
        norm for splits in by_source.values() for s in ("validation", "test") for _, norm, _ in splits.get(s, [])
    }
    held_out |= {normalize_tweet(r.text) for r in hatecheck}
    caps = dict(specs)
    holdout = checked_holdout(args.holdout_sources, by_source)
    columns = {split: {"text": [], "label": [], "source": []} for split in tweeteval}
    dropped = {}
    for name, splits in by_source.items():
        train = [row for row in splits["train"] if row[1] not in held_out]
        dropped[name] = len(splits["train"]) - len(train)
        if name in holdout:  # scored after training, never trained on
            train = []
        if caps.get(name) is not None and len(train) > caps[name]:
            train = random.Random(f"{args.source_split_seed}-{name}-cap").sample(train, caps[name])
        for split in columns:
            rows = train if split == "train" else splits[split]
            columns[split]["text"] += [text for text, _, _ in rows]
            columns[split]["label"] += [label for _, _, label in rows]
            columns[split]["source"] += [name] * len(rows)
    logger.info("Training rows dropped as copies of a validation or test text: %s", dropped)
    features = Features({**FEATURES, "source": Value("string")})
    mixed = DatasetDict({split: Dataset.from_dict(data, features=features) for split, data in columns.items()})
    if args.source_temperature not in (None, 1):
        mixed["train"] = with_temperature(mixed["train"], args.source_temperature, args.source_split_seed)
    mixed.dropped_copies = dropped  # reported in train_results.json and the card
    if "feedback" in catalog:  # how many records, texts and ties; which dataset revision
        mixed.feedback = catalog["feedback"].summary
    return mixed


def checked_holdout(names: list[str], by_source: dict) -> set[str]:
    """``--holdout_sources``: sources of this run, and at least one left to train on."""
    unknown = sorted(set(names) - set(by_source))
    if unknown:
        raise DataError(f"--holdout_sources {unknown}: not a source of this run; choose from {sorted(by_source)}")
    if set(names) >= set(by_source):
        raise DataError("--holdout_sources leaves no source to train on")
    return set(names)


def hub_catalog(args: DataArguments) -> dict:
    """The Hub sources declared in ``--hub_sources`` (none without it), and users' feedback when named."""
    from hatespeech.data.sources import feedback_sources, read_hub_catalog

    declared = read_hub_catalog(Path(args.hub_sources)) if args.hub_sources else {}
    return declared | feedback_sources(args.sources)


def temperature_sizes(sizes: dict[str, int], temperature: float) -> dict[str, int]:
    """Rows per source when source i is drawn with probability proportional to size_i^(1/T), same total."""
    # (size / largest)^(1/T) in logs: the same shares without overflow at small T.
    largest = max(sizes.values(), default=0)
    weights = {name: math.exp(math.log(size / largest) / temperature) for name, size in sizes.items() if size}
    total, norm = sum(sizes.values()), sum(weights.values())
    return {name: round(total * weights[name] / norm) if size else 0 for name, size in sizes.items()}


def with_temperature(train: Dataset, temperature: float, seed: int) -> Dataset:
    """A mixed training split (with a ``source`` column), each source resampled to its share at ``temperature``
    (``--source_temperature``); the same rows whether applied at loading or by a search trial."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise DataError(f"--source_temperature must be a positive number, got {temperature}")
    by_source: dict[str, list[int]] = {}
    for index, name in enumerate(train["source"]):
        by_source.setdefault(name, []).append(index)
    sizes = temperature_sizes({name: len(rows) for name, rows in by_source.items()}, temperature)
    emptied = sorted(name for name, size in sizes.items() if size == 0)
    if emptied:
        raise DataError(f"--source_temperature {temperature} leaves {emptied} without training rows; "
                        "choose a larger temperature")  # fmt: skip
    logger.info("Training rows per source at temperature %s: %s", temperature, sizes)
    keep = [i for name, rows in by_source.items() for i in resample(rows, sizes[name], f"{seed}-{name}-temperature")]
    return train.select(keep)


def resample(rows: list, size: int, seed: str) -> list:
    """``size`` rows: a seeded sample when fewer than there are, else every row repeated, plus a sample."""
    rng = random.Random(seed)
    repeats, rest = divmod(size, len(rows)) if rows else (0, 0)
    return rows * repeats + rng.sample(rows, rest)


def load_split(args: DataArguments, split: str) -> Dataset:
    """One split (e.g. for evaluation) from the same sources, without reading the others."""
    if args.train_file or args.validation_file or args.test_file:
        path = {"train": args.train_file, "validation": args.validation_file, "test": args.test_file}[split]
        if path is None:
            raise DataError(f"no --{split}_file given for the {split} split")
        return read_table(Path(path), args.text_column, args.label_column)
    if args.resolved_data_dir():
        return load_tweeteval_dir(args.resolved_data_dir(), splits=(split,))[split]
    splits = load_hub_dataset(args.dataset_name, args.dataset_config)
    if split not in splits:
        raise DataError(f"Hub dataset {args.dataset_name!r} has no {split} split")
    return splits[split]


def _truncate(splits: DatasetDict, max_train: int | None, max_eval: int | None) -> DatasetDict:
    limits = {"train": max_train, "validation": max_eval, "test": max_eval}
    return DatasetDict(
        {name: ds.select(range(min(len(ds), limits[name]))) if limits[name] else ds for name, ds in splits.items()}
    )


# --- TweetEval folder -------------------------------------------------------------------------


def load_tweeteval_dir(folder: str | os.PathLike, splits=tuple(TWEETEVAL_PREFIXES)) -> DatasetDict:
    """Read ``splits`` of a folder in TweetEval's own layout; ``test_*`` files are optional."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such data folder. {HOW_TO_PROVIDE_DATA}")
    read_mapping(folder / "mapping.txt")
    loaded = {}
    for split in splits:
        prefix = TWEETEVAL_PREFIXES[split]
        text_path, label_path = folder / f"{prefix}_text.txt", folder / f"{prefix}_labels.txt"
        if split == "test" and len(splits) > 1 and not text_path.exists() and not label_path.exists():
            logger.warning("%s has no test split; only validation scores will be reported", folder)
            continue
        loaded[split] = read_tweeteval_split(text_path, label_path)
    return DatasetDict(loaded)


def read_mapping(path: Path) -> None:
    """Check that ``mapping.txt`` describes the binary hate task this project trains."""
    lines = [line for line in read_lines(path) if line.strip()]
    mapping = {}
    for lineno, line in enumerate(lines, start=1):
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].strip().isdigit():
            raise DataError(f"{path}:{lineno}: expected '<id><TAB><name>', got {line!r}")
        mapping[int(parts[0])] = parts[1].strip()
    expected = dict(enumerate(LABEL_NAMES))
    if mapping != expected:
        raise DataError(f"{path}: label mapping {mapping} is not the hate task's {expected}")


def read_tweeteval_split(text_path: Path, label_path: Path) -> Dataset:
    """One split: a text file and a label file with one tweet / one label id per line."""
    texts = read_lines(text_path)
    labels = [_parse_label(value, label_path, lineno) for lineno, value in enumerate(read_lines(label_path), 1)]
    if len(texts) != len(labels):
        raise DataError(
            f"{text_path} has {len(texts)} lines but {label_path} has {len(labels)}: "
            "each tweet needs exactly one label on the same line number"
        )
    return Dataset.from_dict({"text": texts, "label": labels}, features=FEATURES)


def _parse_label(value, path, lineno: int) -> int:
    """Accept a label id (0/1, as int or string) or a label name (not-hate/hate)."""
    text = str(value).strip()
    if text.lstrip("-").isdigit() and int(text) in range(len(LABEL_NAMES)):
        return int(text)
    if text in LABEL2ID:
        return LABEL2ID[text]
    choices = ", ".join(f"{i} ({name})" for i, name in enumerate(LABEL_NAMES))
    raise DataError(f"{path}:{lineno}: label {text!r} is not one of {choices}")


# --- CSV / JSONL files ------------------------------------------------------------------------


def load_files(train_file, validation_file, test_file, text_column: str, label_column: str) -> DatasetDict:
    """Read CSV or JSONL files with configurable text and label columns."""
    if not (train_file and validation_file):
        raise DataError("--train_file and --validation_file must be given together")
    files = {"train": train_file, "validation": validation_file, "test": test_file}
    return DatasetDict(
        {split: read_table(Path(path), text_column, label_column) for split, path in files.items() if path is not None}
    )


def read_table(path: Path, text_column: str, label_column: str) -> Dataset:
    """A CSV (by extension ``.csv``) or JSON Lines (``.jsonl``/``.json``) file of labelled tweets."""
    rows = csv_rows(path) if path.suffix.lower() == ".csv" else jsonl_rows(path)
    texts, labels = [], []
    for lineno, row in rows:
        for column in (text_column, label_column):
            if column not in row:
                raise DataError(f"{path}:{lineno}: no {column!r} column (found {sorted(row)})")
        if not isinstance(row[text_column], str):
            raise DataError(f"{path}:{lineno}: {text_column!r} must be a string, got {row[text_column]!r}")
        texts.append(row[text_column])
        labels.append(_parse_label(row[label_column], path, lineno))
    if not texts:
        raise DataError(f"{path}: no rows")
    return Dataset.from_dict({"text": texts, "label": labels}, features=FEATURES)


# --- Hub dataset ------------------------------------------------------------------------------


def load_hub_dataset(name: str, config: str) -> DatasetDict:
    """Download a Hub dataset with ``text``/``label`` columns (TweetEval's own)."""
    splits = hub_dataset(name, config, advice=f". {HOW_TO_PROVIDE_DATA}")
    missing = {"train", "validation"} - set(splits)
    if missing:
        raise DataError(f"Hub dataset {name!r} ({config}) has no {sorted(missing)} split")
    return DatasetDict({split: splits[split].cast(FEATURES) for split in TWEETEVAL_PREFIXES if split in splits})
