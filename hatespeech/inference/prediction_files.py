"""Writing predictions: CSV rows or TweetEval's one-label-per-line format, in input order."""

import csv
import io
from pathlib import Path

from hatespeech import HATE, LABEL_NAMES, NOT_HATE
from hatespeech.inference.classifier import Prediction
from hatespeech.tweets import Record

FORMATS = ("csv", "tweeteval")


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
            self.csv.writerow([record.line, record.text or "", "", "", "", "", record.message])
        else:
            p = prediction.probabilities
            self.csv.writerow(
                [record.line, record.text, prediction.label, f"{prediction.score:.6f}",
                 f"{p[LABEL_NAMES[NOT_HATE]]:.6f}", f"{p[LABEL_NAMES[HATE]]:.6f}", ""]
            )  # fmt: skip

    def close(self) -> None:
        self.handle.close()


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text: a leading ``= + - @`` or tab would start a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
