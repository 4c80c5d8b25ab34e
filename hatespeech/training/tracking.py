"""Experiment tracking in MLflow (``--report_to mlflow``): one MLflow run per training run, on the main process.

The run holds what the Trainer's own ``MLflowCallback`` logs (every option as a parameter, the loss and the
validation scores of each evaluation), and after training what this project adds: the data options, the final
validation and test scores, the panel's headline numbers, and ``panel.json``, the card and the plots as artifacts.
A search logs each Optuna trial as a nested run (its hyperparameters, the objective after each evaluation and at
the end, its state and worker) as soon as it finishes, and tags the best one ``best_trial``.

Where runs go is MLflow's own configuration: ``MLFLOW_TRACKING_URI`` (a tracking server such as
``http://127.0.0.1:5000``; unset: ``./mlruns``), ``MLFLOW_EXPERIMENT_NAME`` (default ``hatespeech``),
``MLFLOW_TAGS`` (a JSON object of tags). The ``mlflow`` package is the ``tracking`` extra
(``pip install -e .[tracking]``); asking for it without the package stops with that advice.
"""

import json
import os
from contextlib import contextmanager
from pathlib import Path

from hatespeech.config import ConfigError
from hatespeech.evaluation.panel_result import PanelResult
from hatespeech.evaluation.panel_view import worst_identity
from hatespeech.run_folder import CARD, RunFolder

DEFAULT_EXPERIMENT = "hatespeech"
DATA_OPTIONS = ("sources", "source_temperature", "holdout_sources", "deobfuscate", "counter_frames",
                "augment_probability", "max_seq_length", "data_dir", "dataset_name")  # fmt: skip


def wanted(training_args) -> bool:
    """Whether this run reports to MLflow (``--report_to mlflow``; ``all`` names it when the package is installed)."""
    return "mlflow" in (training_args.report_to or [])


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise ConfigError("--report_to mlflow needs the mlflow package: pip install -e .[tracking]") from None
    return mlflow


@contextmanager
def tracked_run(training_args, data_args):
    """An MLflow run around the recipe on the main process (a no-op elsewhere, or without ``--report_to mlflow``);
    yields the ``mlflow`` module, or None."""
    if not wanted(training_args) or training_args.process_index != 0:
        yield None
        return
    mlflow, tags = _mlflow(), _tags(os.environ.get("MLFLOW_TAGS") or "{}")
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT)
    with mlflow.start_run(run_name=Path(training_args.output_dir).name):
        mlflow.set_tags(tags)
        options = {name: getattr(data_args, name, None) for name in DATA_OPTIONS}
        mlflow.log_params({f"data.{name}": _shown(value) for name, value in options.items() if value not in (None, [])})
        yield mlflow


def _tags(text: str) -> dict:
    try:
        tags = json.loads(text)
    except ValueError:
        tags = None
    if not isinstance(tags, dict):
        raise ConfigError(
            f'MLFLOW_TAGS must be a JSON object of tags, e.g. \'{{"candidate": "twelve"}}\'; got {text!r}'
        )
    return tags


def _shown(value) -> str:
    """A parameter as MLflow keeps it: text of at most 500 characters (a long source list is cut, and says so)."""
    text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= 500 else text[:480] + " ... (cut)"


def log_results(mlflow, run: RunFolder, scores: dict[str, dict]) -> None:
    """The final scores of each split, the panel's headline numbers, and the run's files as artifacts."""
    mlflow.log_metrics({f"final_{split}_{name}": float(value) for split, metrics in scores.items()
                        for name, value in metrics.items() if isinstance(value, int | float)})  # fmt: skip
    panel = run.panel()
    if panel:
        mlflow.log_metrics(panel_metrics(PanelResult.from_dict(panel)))
        mlflow.log_artifact(str(run.file("panel.json")))
    if run.file(CARD).is_file():
        mlflow.log_artifact(str(run.file(CARD)))
    for name in ("run_config.yaml", "train_results.json", "eval_results.json"):
        if run.file(name).is_file():
            mlflow.log_artifact(str(run.file(name)))
    if run.file("plots").is_dir():
        mlflow.log_artifacts(str(run.file("plots")), artifact_path="plots")


def panel_metrics(panel: PanelResult) -> dict[str, float]:
    """The panel's headline numbers, named for the MLflow UI's comparison view."""
    metrics = {"panel_validation_mean_macro_f1": panel.validation_mean_macro_f1}
    if panel.validation_perturbed_mean_macro_f1 is not None:
        metrics["panel_validation_disguised_mean_macro_f1"] = panel.validation_perturbed_mean_macro_f1
    for source, scores in panel.validation.items():
        if scores.non_hateful_accuracy is not None:
            metrics[f"panel_validation_{source}_non_hateful_accuracy"] = scores.non_hateful_accuracy
    for source, macro_f1 in (panel.holdout or {}).get("validation", {}).items():
        metrics[f"panel_holdout_{source}_macro_f1"] = macro_f1
    if panel.hatecheck is not None:
        metrics |= {"panel_hatecheck_overall": panel.hatecheck.overall, "panel_hatecheck_hateful":
                    panel.hatecheck.hateful, "panel_hatecheck_non_hateful": panel.hatecheck.non_hateful}  # fmt: skip
    worst = worst_identity(panel)
    if worst is not None:
        metrics["panel_worst_identity_false_positive_rate"] = worst.false_positive_rate
    return metrics


class TrialLog:
    """Each finished Optuna trial as a nested MLflow run under the active one, with the trial's own start and end
    times, logged once; the best tagged."""

    def __init__(self):
        self.mlflow = _mlflow()
        self.client = self.mlflow.MlflowClient()
        self.runs: dict[int, str] = {}  # trial number -> MLflow run id

    def log_finished(self, study) -> None:
        from mlflow.entities import Metric, Param
        from optuna.trial import TrialState

        parent = self.mlflow.active_run()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
            if trial.number in self.runs:
                continue
            tags = {"mlflow.parentRunId": parent.info.run_id, "optuna.study": study.study_name,
                    "optuna.trial": str(trial.number), "optuna.state": trial.state.name,
                    "worker": str(trial.user_attrs.get("worker", ""))}  # fmt: skip
            run = self.client.create_run(parent.info.experiment_id, start_time=_ms(trial.datetime_start), tags=tags,
                                         run_name=f"trial-{trial.number}")  # fmt: skip
            end = _ms(trial.datetime_complete)
            metrics = [
                Metric("objective", value, end, step) for step, value in sorted(trial.intermediate_values.items())
            ]
            if trial.value is not None:
                metrics.append(Metric("objective_final", trial.value, end, 0))
            params = [Param(name, str(value)) for name, value in trial.params.items()]
            self.client.log_batch(run.info.run_id, metrics=metrics, params=params)
            self.client.set_terminated(run.info.run_id, end_time=end)
            self.runs[trial.number] = run.info.run_id

    def tag_best(self, study) -> None:
        best = study.best_trial.number
        if best in self.runs:
            self.client.set_tag(self.runs[best], "best_trial", "true")
            self.mlflow.set_tag("best_trial_run", self.runs[best])


def _ms(moment) -> int | None:
    """A trial's datetime as MLflow's milliseconds since the epoch."""
    return None if moment is None else int(moment.timestamp() * 1000)
