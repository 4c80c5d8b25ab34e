"""Batch classification on a Ray cluster (``predict.py --cluster``), with Ray Data.

The driver plans *pieces* of the input files (line ranges of a .txt or .jsonl file, found by one pass over its
bytes; row groups of a Parquet file; a whole .csv file, whose quoted fields may span lines), and Ray Data reads
them on the cluster with the one-process path's own reader, so a bad row is reported by file and line, as
there. A pool of actors, each holding one :class:`~hatespeech.inference.classifier.Classifier` loaded once (the
engine ``auto`` picks, parity-gated), classifies batches; the driver writes one output per input file, rows in
input order (Ray Data keeps the order), in the one-process path's formats or Parquet.

Retries belong to Ray: an actor that dies is restarted and its batches are run again (``max_restarts``,
``max_task_retries``), so every row is written exactly once. The model must be readable from every node: a Hub
id, or a folder at the same path on every machine (a shared file system).
"""

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from hatespeech import HATE, LABEL_NAMES, NOT_HATE
from hatespeech.tweets import Record, TweetError, count_lines, file_format, read_records, tweet_problem

logger = logging.getLogger(__name__)

CLUSTER_SUFFIXES = (".txt", ".csv", ".jsonl", ".parquet")
LINES_PER_PIECE = 20_000  # rows a read task yields: enough to amortise a task, small enough to spread a file
OUTPUT_COLUMNS = ("file", "line", "text", "error", "label", "score", "p_not_hate", "p_hate")


@dataclass(frozen=True)
class Piece:
    """A part of one input file that one read task turns into rows."""

    path: str
    start: int  # byte offset (txt, jsonl), first row group (parquet), 0 (csv)
    end: int  # byte offset or row group after the last; -1: to the end
    first_line: int  # the line (row, for Parquet) number of the piece's first row


def input_files(path: Path) -> list[Path]:
    """The file, or every supported file of a folder (sorted); a :class:`TweetError` when there is none."""
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in CLUSTER_SUFFIXES)
    else:
        raise TweetError(f"{path}: no such file or folder")
    for file in files:
        if file.suffix.lower() not in CLUSTER_SUFFIXES:
            raise TweetError(f"{file}: expected a {', '.join(CLUSTER_SUFFIXES)} file")
    if not files:
        raise TweetError(f"{path}: holds no {', '.join(CLUSTER_SUFFIXES)} file")
    return files


def plan_pieces(path: Path, lines_per_piece: int = LINES_PER_PIECE) -> list[Piece]:
    """The pieces of one file, in order."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return [Piece(str(path), 0, -1, 1)]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(path).metadata
        pieces, row = [], 1
        for group in range(metadata.num_row_groups):
            pieces.append(Piece(str(path), group, group + 1, row))
            row += metadata.row_group(group).num_rows
        return pieces
    return _line_pieces(path, lines_per_piece)


def _line_pieces(path: Path, lines_per_piece: int) -> list[Piece]:
    """Byte ranges of ``lines_per_piece`` lines each, found in one pass over the file (memory stays flat)."""
    pieces, start, line, offset, in_piece = [], 0, 1, 0, 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            position = 0
            while (newline := chunk.find(b"\n", position)) != -1:
                in_piece += 1
                position = newline + 1
                if in_piece == lines_per_piece:
                    pieces.append(Piece(str(path), start, offset + position, line))
                    start, line, in_piece = offset + position, line + lines_per_piece, 0
            offset += len(chunk)
    if offset > start:
        pieces.append(Piece(str(path), start, offset, line))
    return pieces


def read_piece(piece: Piece, text_column: str) -> Iterator[Record]:
    """The records of one piece, numbered by their line in the whole file."""
    path = Path(piece.path)
    if path.suffix.lower() == ".parquet":
        yield from _parquet_records(piece, text_column)
        return
    with path.open("rb") as handle:
        if piece.end == -1:  # a whole file (CSV): streamed, as the one-process path reads it
            yield from read_records(handle, path.name, text_column)
            return
        handle.seek(piece.start)
        data = handle.read(piece.end - piece.start)
    if piece.start > 0:  # a later piece of the file: the UTF-8 byte-order mark belongs to the first alone
        data = data.removeprefix(b"\xef\xbb\xbf")
    for record in read_records(io.BytesIO(data), path.name, text_column):
        yield replace(record, line=record.line + piece.first_line - 1)


def _parquet_records(piece: Piece, text_column: str) -> Iterator[Record]:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(piece.path)
    if text_column not in source.schema_arrow.names:
        raise TweetError(f"{piece.path}: no {text_column!r} column; the columns are {source.schema_arrow.names}")
    table = source.read_row_groups(list(range(piece.start, piece.end)), columns=[text_column])
    for index, text in enumerate(table.column(text_column).to_pylist()):
        problem = tweet_problem(text)
        yield Record(piece.first_line + index, None if problem else text, problem)


def check_readable(path: Path, text_column: str) -> None:
    """Stop before the cluster starts work when a file cannot be read at all (no such column, wrong type)."""
    if path.suffix.lower() == ".parquet":
        for piece in plan_pieces(path)[:1]:
            next(_parquet_records(piece, text_column), None)
        return
    file_format(path.name)
    with path.open("rb") as handle:
        next(read_records(handle, path.name, text_column), None)


def total_rows(pieces: list[Piece]) -> int:
    """Rows of the planned files, for the progress bar: lines (a CSV row with a line break counts twice), or Parquet
    rows. From the plan, so a large text file is not read again: only its last piece's lines are counted."""
    last: dict[str, Piece] = {}
    for piece in pieces:
        last[piece.path] = piece
    total = 0
    for path, piece in ((Path(p), piece) for p, piece in last.items()):
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(path).metadata.num_rows
        elif piece.end == -1:  # a whole CSV file, less its header
            total += count_lines(path) - 1
        else:
            with path.open("rb") as handle:
                handle.seek(piece.start)
                tail = handle.read(piece.end - piece.start)
            total += piece.first_line - 1 + tail.count(b"\n") + (not tail.endswith(b"\n"))
    return total


class ClassifyBatches:
    """A Ray Data actor: loads the model once, then classifies batches of rows (bad rows pass through)."""

    def __init__(self, model: str, revision: str | None, backend: str, batch_size: int, num_threads: int | None):
        from hatespeech.inference.classifier import Classifier

        self.classifier = Classifier(model, revision=revision, backend=backend, batch_size=batch_size,
                                     num_threads=num_threads)  # fmt: skip

    def __call__(self, batch: dict) -> dict:
        texts, errors = list(batch["text"]), list(batch["error"])
        good = [i for i, error in enumerate(errors) if not error]
        predictions = dict(zip(good, self.classifier.classify([texts[i] for i in good]), strict=True))
        out = {"label": [], "score": [], "p_not_hate": [], "p_hate": []}
        for i in range(len(texts)):
            p = predictions.get(i)
            out["label"].append(p.label if p else None)
            out["score"].append(p.score if p else None)
            out["p_not_hate"].append(p.probabilities[LABEL_NAMES[NOT_HATE]] if p else None)
            out["p_hate"].append(p.probabilities[LABEL_NAMES[HATE]] if p else None)
        return {**batch, **out}


@dataclass
class ClusterJob:
    """What ``predict.py --cluster`` asks of the cluster."""

    address: str
    model: str
    revision: str | None
    backend: str
    text_column: str
    actors: int
    batch_size: int = 128
    num_threads: int | None = None
    max_restarts: int = 3  # per actor; its lost batches are run again on the restarted one
    gpus_per_actor: float = 0  # Ray hides the GPUs from an actor that asks for none


def plan(files: list[Path], lines_per_piece: int = LINES_PER_PIECE) -> list[Piece]:
    """The pieces of every file, in order (one pass over each text file)."""
    return [piece for file in files for piece in plan_pieces(file, lines_per_piece)]


def classified_rows(job: ClusterJob, pieces: list[Piece]) -> Iterator[dict]:
    """Every row of the planned ``pieces``, in input order, with its prediction (None fields for a bad row)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=job.address, logging_level=logging.WARNING, log_to_driver=False)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # one output per input, rows in input order
    text_column = job.text_column

    def rows_of(item: dict) -> list[dict]:
        piece = Piece(**item)
        return [{"file": piece.path, "line": r.line, "text": r.text or "", "error": r.error or ""}
                for r in read_piece(piece, text_column)]  # fmt: skip

    dataset = ray.data.from_items([vars(piece) for piece in pieces], override_num_blocks=max(1, len(pieces)))
    # Reading reserves no core: with actors holding every core of a node, reads that wait for one would never run.
    dataset = dataset.flat_map(rows_of, num_cpus=0).map_batches(
        ClassifyBatches,
        fn_constructor_kwargs={"model": job.model, "revision": job.revision, "backend": job.backend,
                               "batch_size": job.batch_size, "num_threads": job.num_threads},
        compute=ray.data.ActorPoolStrategy(size=job.actors),
        num_cpus=job.num_threads or 1,  # an actor's share of its node's cores: its torch threads
        num_gpus=job.gpus_per_actor,
        batch_size=job.batch_size * 4,
        batch_format="numpy",
        max_restarts=job.max_restarts,
        max_task_retries=-1,  # a batch lost with its actor is run again, as often as it takes
    )  # fmt: skip
    for batch in dataset.iter_batches(batch_size=1024, batch_format="numpy"):
        for i in range(len(batch["line"])):
            yield {column: _plain(batch[column][i]) for column in OUTPUT_COLUMNS}


def _plain(value):
    """A numpy scalar as the Python value the writers expect."""
    return value.item() if hasattr(value, "item") else value


def output_paths(files: list[Path], output: Path, output_format: str) -> dict[str, Path]:
    """Where each input's predictions go: ``output`` itself for a single input named as a file, else one file per
    input inside the folder ``output`` (``<input name>.predictions<format suffix>``, so a.txt and a.csv
    do not collide)."""
    from hatespeech.inference.prediction_files import SUFFIXES

    if len(files) == 1 and not output.is_dir() and output.suffix:
        return {str(files[0]): output}
    return {str(file): output / f"{file.name}.predictions{SUFFIXES[output_format]}" for file in files}


def write_outputs(rows: Iterator[dict], paths: dict[str, Path], output_format: str, progress=None) -> tuple[int, int]:
    """Write each row to its input's output (rows arrive file by file, in order); bad rows are reported on stderr
    by file and line. Returns (classified, bad)."""
    import sys

    from hatespeech.inference.classifier import Prediction
    from hatespeech.inference.prediction_files import PredictionWriter

    classified = bad = 0
    writer, current, written = None, None, set()
    try:
        for row in rows:
            if row["file"] != current:
                if writer:
                    writer.close()
                current, writer = row["file"], PredictionWriter(paths[row["file"]], output_format)
            record = Record(row["line"], row["text"] or None, row["error"] or None)
            prediction = None
            if record.error:
                bad += 1
                (progress.write if progress else print)(f"{current}: {record.message}", file=sys.stderr)
            else:
                classified += 1
                prediction = Prediction(row["label"], row["score"], {LABEL_NAMES[NOT_HATE]: row["p_not_hate"],
                                                                     LABEL_NAMES[HATE]: row["p_hate"]})  # fmt: skip
            writer.write(record, prediction)
            written.add(current)
            if progress:
                progress.update(1)
    finally:
        if writer:
            writer.close()
    for file in paths.keys() - written:  # an input without rows still gets its (empty) output, as in one process
        PredictionWriter(paths[file], output_format).close()
    return classified, bad
