"""Writing predictions: CSV rows, TweetEval's one-label-per-line format or Parquet, in input order."""

import csv
import io
from pathlib import Path

from hatespeech import HATE, LABEL_NAMES, NOT_HATE
from hatespeech.inference.classifier import Prediction
from hatespeech.tweets import Record

FORMATS = ("csv", "tweeteval", "parquet")
SUFFIXES = {"csv": ".csv", "tweeteval": ".txt", "parquet": ".parquet"}
PARQUET_ROWS = 50_000  # rows per Parquet row group: memory stays flat on any size


class PredictionWriter:
    """Writes one output row per input record, in input order."""

    def __init__(self, path: Path, output_format: str = "csv"):
        if output_format not in FORMATS:
            raise ValueError(f"unknown format {output_format!r}; choose from {FORMATS}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.format, self.path = output_format, path
        if output_format == "parquet":
            self.rows: list[dict] = []
            self.parquet = None  # opened with the first row group
            return
        self.handle: io.TextIOBase = path.open("w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.handle)
        if output_format == "csv":
            self.csv.writerow(list(COLUMNS))

    def write(self, record: Record, prediction: Prediction | None) -> None:
        if self.format == "parquet":
            p = prediction.probabilities if prediction else {}
            self.rows.append({"line": record.line, "text": record.text,
                              "label": prediction.label if prediction else None,
                              "score": prediction.score if prediction else None,
                              "p_not_hate": p.get(LABEL_NAMES[NOT_HATE]), "p_hate": p.get(LABEL_NAMES[HATE]),
                              "error": record.message if record.error else None})  # fmt: skip
            if len(self.rows) >= PARQUET_ROWS:
                self._flush()
        elif self.format == "tweeteval":  # one label id per line; a bad line stays as an empty line
            self.handle.write(f"{prediction.label_id}\n" if prediction else "\n")
        elif prediction is None:
            self.csv.writerow([record.line, record.text or "", "", "", "", "", record.message])
        else:
            p = prediction.probabilities
            self.csv.writerow(
                [record.line, record.text, prediction.label, f"{prediction.score:.6f}",
                 f"{p[LABEL_NAMES[NOT_HATE]]:.6f}", f"{p[LABEL_NAMES[HATE]]:.6f}", ""]
            )  # fmt: skip

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self.rows, schema=_parquet_schema())
        if self.parquet is None:
            self.parquet = pq.ParquetWriter(self.path, table.schema)
        self.parquet.write_table(table)
        self.rows = []

    def close(self) -> None:
        if self.format != "parquet":
            self.handle.close()
            return
        if self.rows or self.parquet is None:  # the last rows; an empty file still gets its schema
            self._flush()
        self.parquet.close()


COLUMNS = ("line", "text", "label", "score", "p_not_hate", "p_hate", "error")


def _parquet_schema():
    """The Parquet output's columns (pyarrow is imported only when Parquet is written)."""
    import pyarrow as pa

    return pa.schema([("line", pa.int64()), ("text", pa.string()), ("label", pa.string()), ("score", pa.float64()),
                      ("p_not_hate", pa.float64()), ("p_hate", pa.float64()), ("error", pa.string())])  # fmt: skip


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ``= + - @`` or tab would start a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
