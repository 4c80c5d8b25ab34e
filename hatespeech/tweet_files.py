"""Streaming tweets out of .txt/.csv/.jsonl files and predictions into CSV or TweetEval files.

Records are read lazily, one line at a time, so memory stays flat on files of any size. A line
that cannot be classified becomes a record with an ``error`` instead of stopping the run.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hatespeech.inference import Prediction
from hatespeech.text import MAX_TWEET_CHARS

FORMATS = ("csv", "tweeteval")


@dataclass(frozen=True)
class Record:
    """One input line: its number, its text, or why it has none."""

    line: int
    text: str | None
    error: str | None = None


def count_lines(path: Path) -> int:
    """Number of lines, counted in binary chunks (for the progress bar's total)."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def read_records(path: Path, text_column: str = "text") -> Iterator[Record]:
    """Records from a .txt (one tweet per line), .csv (a text column) or .jsonl file."""
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".csv", ".jsonl", ".json"):
        raise ValueError(f"{path}: expected a .txt, .csv or .jsonl file")
    with path.open("rb") as handle:
        lines = _decoded_lines(handle)
        if suffix == ".csv":
            yield from _csv_records(lines, text_column)
        else:
            for lineno, line, error in lines:
                if error:
                    yield Record(lineno, None, error)
                elif suffix == ".txt":
                    yield _checked(lineno, line)
                else:
                    yield _json_record(lineno, line, text_column)


def _decoded_lines(handle) -> Iterator[tuple[int, str | None, str | None]]:
    for lineno, raw in enumerate(handle, start=1):
        try:
            yield lineno, raw.decode("utf-8").rstrip("\r\n"), None
        except UnicodeDecodeError:
            yield lineno, None, "not valid UTF-8"


def _checked(lineno: int, text: str) -> Record:
    if "\x00" in text:
        return Record(lineno, None, "contains a NUL byte")
    if not text.strip():
        return Record(lineno, None, "empty tweet")
    if len(text) > MAX_TWEET_CHARS:
        return Record(lineno, None, f"longer than {MAX_TWEET_CHARS} characters")
    return Record(lineno, text)


def _json_record(lineno: int, line: str, text_column: str) -> Record:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        return Record(lineno, None, f"invalid JSON ({err.msg})")
    text = row.get(text_column) if isinstance(row, dict) else None
    if not isinstance(text, str):
        return Record(lineno, None, f"no string {text_column!r} field")
    return _checked(lineno, text)


def _csv_records(lines, text_column: str) -> Iterator[Record]:
    header = None
    for lineno, line, error in lines:
        if error:
            yield Record(lineno, None, error)
            continue
        row = next(csv.reader([line]), [])
        if header is None:
            header = row
            if text_column not in header:
                raise ValueError(f"line 1: no {text_column!r} column (found {header})")
            continue
        if len(row) != len(header):
            yield Record(lineno, None, f"expected {len(header)} fields, found {len(row)}")
            continue
        yield _checked(lineno, row[header.index(text_column)])


class PredictionWriter:
    """Writes one output row per input record, in input order."""

    def __init__(self, path: Path, output_format: str = "csv"):
        if output_format not in FORMATS:
            raise ValueError(f"unknown format {output_format!r}; choose from {FORMATS}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.format = output_format
        self.handle: io.TextIOBase = path.open("w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.handle)
        if output_format == "csv":
            self.csv.writerow(["line", "text", "label", "score", "p_not_hate", "p_hate", "error"])

    def write(self, record: Record, prediction: Prediction | None) -> None:
        if self.format == "tweeteval":  # one label id per line; a bad line stays as an empty line
            self.handle.write(f"{prediction.label_id}\n" if prediction else "\n")
        elif prediction is None:
            self.csv.writerow([record.line, record.text or "", "", "", "", "", record.error])
        else:
            p = prediction.probabilities
            self.csv.writerow(
                [record.line, record.text, prediction.label, f"{prediction.score:.6f}",
                 f"{p['not-hate']:.6f}", f"{p['hate']:.6f}", ""]
            )  # fmt: skip

    def close(self) -> None:
        self.handle.close()
