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
        panel.json               the evaluation panel: sources' splits, HateCheck (hatespeech.evaluation.panel)
        panel_compared.json      the panel of the configuration this one replaced (hatespeech.evaluation.comparison)
        plots/hatecheck_compared.png   HateCheck per functionality, that configuration beside this one
        reference.json           validation statistics the server's drift metrics compare with (hatespeech.monitoring)
        onnx/                    the exported graphs and their parity report (hatespeech.inference.export)
        README.md                the model card

The names are relative, so the same layout is read from a Hub repo (:func:`run_file`).
"""

import json
import shutil
from pathlib import Path

import yaml

from hatespeech.errors import first_line

CONFIG = "run_config.yaml"
TRAIN_RESULTS = "train_results.json"
RESULTS = "eval_results.json"
CARD = "README.md"
PANEL = "panel.json"
REFERENCE = "reference.json"
PLOTS = "plots"
SEARCH = "search"
PLOT_KINDS = ("confusion_matrix", "precision_recall", "reliability")
IDENTITY_PLOT = f"{PLOTS}/identity_false_positives.png"  # written with the panel (hatespeech.evaluation.panel)
# The replaced configuration's panel and the plot of both (hatespeech.evaluation.comparison).
COMPARED = "panel_compared.json"
COMPARED_PLOT = f"{PLOTS}/hatecheck_compared.png"
ONNX_DIR = "onnx"
PARITY = f"{ONNX_DIR}/parity.json"
# Splits whose plots a card or the demo shows, in order of preference.
SHOWN_SPLITS = ("test", "validation")


# Everything a run writes (the model files are the Trainer's; optuna.db is the default study storage, so a
# replaced run starts a new study): what --overwrite_output_dir removes first.
OWNED = (CONFIG, TRAIN_RESULTS, RESULTS, CARD, PANEL, COMPARED, REFERENCE, "predictions_*.txt", PLOTS, SEARCH,
         "checkpoint-*", "runs", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
         "special_tokens_map.json", "vocab.txt", "training_args.bin", "trainer_state.json", "*_results.json",
         "optuna.db", ONNX_DIR)  # fmt: skip


def run_file(model_id: str, revision: str | None, name: str) -> Path | None:
    """A file of the model's run folder, local or from the Hub; None when absent."""
    folder = Path(model_id)
    if folder.is_dir():
        return folder / name if (folder / name).is_file() else None
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(model_id, name, revision=revision))
    except Exception:  # a model without this file still serves
        return None


class RunFolderError(ValueError):
    """An output folder that holds another run."""


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

    # Before a run: the folder must be its own (no files of an earlier run end up in its card).
    def claim(self, options: dict, data_options: set[str], resuming: bool, overwrite: bool) -> None:
        """Make the folder this run's: a folder holding an earlier run is refused unless ``overwrite`` (its run
        files are removed first) or ``resuming`` with the same data options; the options are written now, so
        a resumed run can be checked against them."""
        earlier = self.earlier_run()
        if earlier and overwrite:
            self.clear()
        elif earlier and resuming:
            recorded = self.config()
            changed = sorted(name for name in data_options if recorded.get(name) != options.get(name))
            if changed:
                raise RunFolderError(f"{self.path} was trained with other data options ({', '.join(changed)}: "
                                     f"{[recorded.get(n) for n in changed]}); resume with the same ones, or pass "
                                     "--overwrite_output_dir true to start again")  # fmt: skip
        elif earlier:
            raise RunFolderError(f"{self.path} holds an earlier run ({earlier}); choose another --output_dir, "
                                 "pass --overwrite_output_dir true to replace it, or --resume_from_checkpoint "
                                 "latest")  # fmt: skip
        self.write_config(options)

    def earlier_run(self) -> str | None:
        """A file that shows an earlier run's work in the folder, or None (a run that stopped before its first
        checkpoint left only its options: nothing to keep)."""
        for pattern in ("checkpoint-*", "config.json", RESULTS, PANEL):
            found = sorted(self.path.glob(pattern))
            if found:
                return found[0].name
        return None

    def clear(self) -> None:
        """Remove every file and folder a run writes (and nothing else)."""
        for pattern in OWNED:
            for path in self.path.glob(pattern):
                shutil.rmtree(path) if path.is_dir() else path.unlink()

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

    def write_reference(self, statistics: dict) -> None:
        self._write(REFERENCE, json.dumps(statistics, indent=2) + "\n")

    def write_panel(self, panel: dict) -> None:
        self._write(PANEL, json.dumps(panel, indent=2) + "\n")
        (self.path / COMPARED_PLOT).unlink(missing_ok=True)  # drawn from the panel it replaces; the table stays true

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

    def compared(self) -> dict | None:
        return self._read(COMPARED, json.loads)

    def search_summary(self) -> dict | None:
        return self._read(f"{SEARCH}/best_trial.json", json.loads)

    def existing_plots(self, split: str) -> dict[str, str]:
        return {kind: name for kind, name in plot_names(split).items() if (self.path / name).is_file()}

    def _read(self, name: str, loader):
        path = self.path / name
        if not path.is_file():
            return None
        try:
            return loader(path.read_text(encoding="utf-8"))
        except (ValueError, yaml.YAMLError) as err:  # cut short or edited by hand: name the file
            raise RunFolderError(f"{path}: cannot be read ({first_line(err)})") from None

    def _write(self, name: str, text: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path
