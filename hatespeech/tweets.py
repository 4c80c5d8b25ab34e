"""What a classifiable tweet is, and one streaming reader for tweet files.

Every front end (the REST API, the Gradio batch tab, ``predict.py``) checks and reads tweets here,
so the same fault gets the same message everywhere. A front end only chooses a policy: reject the
whole request at the first bad tweet (REST) or report bad lines and keep going (UI, ``predict.py``).

A tweet is a string of 1 to ``MAX_TWEET_CHARS`` characters with something visible in it (not only
whitespace, zero-width characters or a BOM), no NUL byte and nothing that is not valid UTF-8
(undecodable bytes and lone surrogates). Files are ``.txt`` (one tweet per line), ``.csv`` (a named
column; quoted newlines allowed) or ``.jsonl`` (a named string field), UTF-8 with or without a BOM,
LF or CRLF line ends.

This reader is lenient by design, unlike the training data's (:mod:`hatespeech.data.readers`, where any bad row
stops the run): a moderator's file is classified tweet by tweet, and a bad line is reported, not fatal.
"""

import csv
import io
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# Tweets are at most 280 characters; the limit leaves room for other short texts.
MAX_TWEET_CHARS = 1000
# Limits of an uploaded file (REST and the Gradio batch tab); predict.py streams files of any size.
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILE_TWEETS = 10_000
FILE_SUFFIXES = (".txt", ".csv", ".jsonl")
# Characters that show nothing on their own: control and format characters (zero-width space, BOM, ...),
# separators, and combining marks, which the tokenizer strips as accents (a text of them alone reads as empty).
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"}


class TweetError(ValueError):
    """A tweet or a file that cannot be classified; the message says why and where."""


class UploadTooLarge(TweetError):
    """An upload over the byte or tweet limit."""


def tweet_problem(text) -> str | None:
    """Why ``text`` cannot be classified ("is empty", ...), or None when it can."""
    if not isinstance(text, str):
        return "is not a string"
    if "\x00" in text:
        return "contains a NUL byte"
    if any("\ud800" <= char <= "\udfff" for char in text):  # undecodable bytes and lone surrogates
        return "is not valid UTF-8"
    if len(text) > MAX_TWEET_CHARS:
        return f"is {len(text)} characters long; the limit is {MAX_TWEET_CHARS}"
    if all(char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text):
        return "is empty"
    return None


def check_tweet(text, where: str = "tweet") -> str:
    """``text`` when it can be classified; otherwise a :class:`TweetError` naming ``where``."""
    problem = tweet_problem(text)
    if problem:
        raise TweetError(f"{where} {problem}")
    return text


@dataclass(frozen=True)
class Record:
    """One tweet of a file: the line it starts on, its text, or why it has none."""

    line: int
    text: str | None
    error: str | None = None

    @property
    def blank(self) -> bool:
        return self.error == "is empty"

    @property
    def message(self) -> str:
        return f"line {self.line} {self.error}"


def file_format(name: str) -> str:
    """``txt``, ``csv`` or ``jsonl`` from a file name; a :class:`TweetError` for anything else."""
    suffix = Path(name).suffix.lower()
    if suffix not in FILE_SUFFIXES:
        raise TweetError(f"expected a {', '.join(FILE_SUFFIXES)} file, got {suffix or 'no extension'!r}")
    return suffix[1:]


def read_records(source: BinaryIO, name: str, text_column: str = "text") -> Iterator[Record]:
    """Records of a binary stream read lazily (memory stays flat); ``name`` gives the format.

    A file that cannot be read at all (wrong type, no such CSV column) raises :class:`TweetError`
    before the first record; a bad line becomes a record with an ``error``.
    """
    kind = file_format(name)
    # surrogateescape: an undecodable byte becomes a lone surrogate, which tweet_problem reports per line.
    text = io.TextIOWrapper(source, encoding="utf-8-sig", errors="surrogateescape", newline="")
    if kind == "csv":
        yield from _csv_records(text, text_column)
        return
    for lineno, line in enumerate(text, start=1):
        line = line.rstrip("\r\n")
        if kind == "txt":
            yield _record(lineno, line)
        elif not line.strip():
            yield Record(lineno, None, "is empty")
        else:
            yield _json_record(lineno, line, text_column)


def read_upload(content: bytes, name: str, text_column: str = "text") -> list[Record]:
    """All records of an uploaded file, within the upload limits (:class:`TweetError` past them)."""
    if len(content) > MAX_FILE_BYTES:
        raise UploadTooLarge(f"file is {len(content)} bytes; the limit is {MAX_FILE_BYTES}")
    records = [r for r in read_records(io.BytesIO(content), name, text_column) if not r.blank]
    if not records:
        raise TweetError("file holds no tweets")
    if len(records) > MAX_FILE_TWEETS:
        raise UploadTooLarge(f"file holds {len(records)} tweets; the limit is {MAX_FILE_TWEETS}")
    return records


def count_lines(path: Path) -> int:
    """Number of lines, counted in binary chunks (for a progress bar's total)."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _record(lineno: int, text) -> Record:
    problem = tweet_problem(text)
    return Record(lineno, None, problem) if problem else Record(lineno, text)


def _json_record(lineno: int, line: str, field: str) -> Record:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as err:
        return Record(lineno, None, f"is not valid JSON ({err.msg})")
    value = row.get(field) if isinstance(row, dict) else None
    if not isinstance(value, str):
        return Record(lineno, None, f"has no string {field!r} field")
    return _record(lineno, value)


def _csv_records(text: io.TextIOBase, column: str) -> Iterator[Record]:
    rows = csv.reader(text)
    try:
        header = next(rows, None)
    except csv.Error as err:
        raise TweetError(f"line 1 is not a CSV header ({err})") from None
    if not header or column not in header:
        raise TweetError(f"no {column!r} column; the columns are {header or []}")
    index, start = header.index(column), rows.line_num + 1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as err:
            yield Record(start, None, f"is not valid CSV ({err})")
        else:
            if not any(field.strip() for field in row):
                yield Record(start, None, "is empty")
            elif len(row) != len(header):
                yield Record(start, None, f"has {len(row)} fields; the header has {len(header)}")
            else:
                yield _record(start, row[index])
        start = rows.line_num + 1
