"""The layout of a run's output folder, in one place: every module reads and writes a run through here.

    <output_dir>/
        config.json, model.safetensors, tokenizer.json ...   the model (written by the Trainer)
        run_config.yaml          every option of the run (``python train.py --config`` repeats it)
        train_results.json       how training went (time, hardware, best checkpoint, data sizes)
        eval_results.json        TweetEval scores per split, merged as splits are scored
        predictions_<split>.txt  TweetEval's format: one label id per line, in input order
        plots/<split>_<kind>.png confusion matrix, precision-recall curve, reliability diagram
        plots/identity_false_positives.png   per-identity false-positive rate (with the panel)
        search/                  trials.csv, best_trial.json, history.png (after --search)
        panel.json               the evaluation panel: sources' splits, HateCheck (hatespeech.panel)
        README.md                the model card

The names are relative, so the same layout is read from a Hub repo (``hf_hub_download(repo, name)``).
"""

import json
from pathlib import Path

import yaml

CONFIG = "run_config.yaml"
TRAIN_RESULTS = "train_results.json"
RESULTS = "eval_results.json"
CARD = "README.md"
PANEL = "panel.json"
PLOTS = "plots"
SEARCH = "search"
PLOT_KINDS = ("confusion_matrix", "precision_recall", "reliability")
IDENTITY_PLOT = f"{PLOTS}/identity_false_positives.png"  # written with the panel (hatespeech.panel)


def predictions_name(split: str) -> str:
    return f"predictions_{split}.txt"


def plot_names(split: str) -> dict[str, str]:
    """Plot file of each kind for ``split``, relative to the run folder."""
    return {kind: f"{PLOTS}/{split}_{kind}.png" for kind in PLOT_KINDS}


class RunFolder:
    """A run's output folder; file names come from this module only."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def file(self, name: str) -> Path:
        return self.path / name

    # What training and evaluation write.
    def write_config(self, options: dict) -> None:
        self._write(CONFIG, yaml.safe_dump(options, sort_keys=False))

    def write_train_results(self, results: dict) -> None:
        self._write(TRAIN_RESULTS, json.dumps(results, indent=2, default=str) + "\n")

    def add_scores(self, split: str, scores: dict) -> None:
        """Merge one split's scores into ``eval_results.json``."""
        self._write(RESULTS, json.dumps({**self.scores(), split: scores}, indent=2) + "\n")

    def write_predictions(self, split: str, label_ids) -> Path:
        """TweetEval's prediction format: one label id per line, in input order."""
        return self._write(predictions_name(split), "".join(f"{int(label)}\n" for label in label_ids))

    def plot(self, split: str, kind: str) -> Path:
        path = self.path / f"{PLOTS}/{split}_{kind}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_panel(self, panel: dict) -> None:
        self._write(PANEL, json.dumps(panel, indent=2) + "\n")

    def search_file(self, name: str) -> Path:
        folder = self.path / SEARCH
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    # What the card, the Hub upload and the demo read back.
    def config(self) -> dict:
        return self._read(CONFIG, yaml.safe_load) or {}

    def train_results(self) -> dict:
        return self._read(TRAIN_RESULTS, json.loads) or {}

    def scores(self) -> dict:
        return self._read(RESULTS, json.loads) or {}

    def panel(self) -> dict | None:
        return self._read(PANEL, json.loads)

    def search_summary(self) -> dict | None:
        return self._read(f"{SEARCH}/best_trial.json", json.loads)

    def existing_plots(self, split: str) -> dict[str, str]:
        return {kind: name for kind, name in plot_names(split).items() if (self.path / name).is_file()}

    def _read(self, name: str, loader):
        path = self.path / name
        return loader(path.read_text(encoding="utf-8")) if path.is_file() else None

    def _write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
