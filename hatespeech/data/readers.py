"""The readers of training and evaluation data files, with one error policy: every fault is a
:class:`DataError` that names the file and, where there is one, the line.

The serving side reads uploaded tweet files with its own, lenient reader (:mod:`hatespeech.tweets`): a
moderator's upload is classified row by row, while training data must be right as a whole.
"""

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from hatespeech.errors import first_line

DATA_DIR_ENV = "HATESPEECH_DATA_DIR"
HOW_TO_PROVIDE_DATA = (
    "Provide the data locally: --data_dir PATH (a folder in TweetEval layout, e.g. "
    f"../shared/tweeteval/hate, or set {DATA_DIR_ENV}), or --train_file/--validation_file "
    "[--test_file] as CSV or JSONL."
)


class DataError(ValueError):
    """Input data that cannot be used; the message says which file and line, and why."""


def hub_dataset(dataset: str, config: str | None = None, revision: str | None = None, advice: str = ""):
    """A Hub data set's ``DatasetDict`` (needs the network, or the datasets cache); offline, an unknown id, a gated
    data set...: one :class:`DataError`, with ``advice`` after it."""
    from datasets import load_dataset

    try:
        return load_dataset(dataset, config, revision=revision)
    except Exception as err:  # the datasets library raises many kinds; all end in the same message
        named = f"{dataset!r}" + (f" ({config})" if config else "")
        raise DataError(f"could not load the Hub data set {named}: {first_line(err)}{advice}") from None


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file, without line endings; undecodable bytes name their line."""
    if not path.is_file():
        raise DataError(f"{path}: file not found. {HOW_TO_PROVIDE_DATA}")
    raw_lines = path.read_bytes().split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    if not raw_lines:
        raise DataError(f"{path}: file is empty")
    lines = []
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as err:
            raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {err.start}: {err.reason})") from None
    return lines


def csv_rows(
    path: Path, columns: tuple[str, ...] = (), delimiter: str = ",", encoding: str = "utf-8"
) -> Iterator[tuple[int, dict]]:
    """Rows of a CSV/TSV file (UTF-8 unless said) with at least ``columns``; every fault names the file (and the
    line)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    # Fields can be long posts; the csv module's default limit (128 KiB) would stop with a traceback.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            missing = [column for column in columns if column not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}: no column {missing[0]!r} (found {reader.fieldnames})")
            for row in reader:
                if any(row.get(column) is None for column in columns):
                    raise _bad_line(path, reader.line_num, f"fewer fields than the header's {len(reader.fieldnames)}")
                yield reader.line_num, row
        except UnicodeDecodeError as err:  # decoded in blocks: find the line in the raw bytes
            line, column = _undecodable(path)
            raise _bad_line(path, line, f"not valid UTF-8 (byte {column}: {err.reason})") from None
        except csv.Error as err:
            raise _bad_line(path, reader.line_num, f"not readable as CSV ({err})") from None


def _undecodable(path: Path) -> tuple[int, int]:
    """The first line (1-based) that is not UTF-8, and the bad byte's offset in it."""
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return number, err.start
    return 0, 0


def _bad_line(path: Path, line: int, why: str) -> DataError:
    return DataError(f"{path}:{line}: {why}")


def jsonl_rows(path: Path):
    """(line number, object) of each non-empty line of a JSON-lines file; a bad line names its file and line."""
    for lineno, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{lineno}: invalid JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object per line")
        yield lineno, row
