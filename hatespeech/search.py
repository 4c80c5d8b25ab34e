"""Optuna hyperparameter search through ``Trainer.hyperparameter_search``.

The study lives in an Optuna storage (an SQLite file by default, any RDB URL otherwise), so a
search can be resumed and several processes or machines can join it by sharing the storage URL
and study name. ``--n_trials`` is the total number of finished trials the study should hold.

Under DDP, transformers runs the study on rank 0 and broadcasts each trial's parameters; it
returns nothing on the other ranks, and Optuna's pruning is not DDP-safe (only rank 0 would stop).
So pruning is switched off when ``world_size > 1`` and the best parameters are broadcast here.
"""

import json
import logging
import shutil
from dataclasses import dataclass, field, fields
from pathlib import Path

import optuna
import torch
import yaml

from hatespeech.config import REPO_ROOT

logger = logging.getLogger(__name__)

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class SearchArguments:
    """Hyperparameter search (used with --search)."""

    search: bool = field(default=False, metadata={"help": "Run an Optuna search, then retrain with the best trial."})
    n_trials: int = field(default=10, metadata={"help": "Total finished trials the study should hold."})
    search_space: str = field(
        default=str(REPO_ROOT / "configs" / "search.yaml"),
        metadata={"help": "YAML file with the search space, sampler and pruner."},
    )
    study_name: str = field(default="hatespeech", metadata={"help": "Optuna study name (join or resume it)."})
    storage: str | None = field(
        default=None,
        metadata={
            "help": "Optuna storage URL, e.g. sqlite:///search.db or postgresql://... "
            "Defaults to sqlite:///<output_dir>/optuna.db."
        },
    )


@dataclass
class SearchSpace:
    """Parameters to sample and how: parsed from ``configs/search.yaml``."""

    params: dict[str, dict]
    sampler: str = "tpe"
    pruner: str = "median"

    @classmethod
    def from_yaml(cls, path: str | Path, allowed: set[str]) -> "SearchSpace":
        """Load and check a search space; ``allowed`` are the option names a trial may set."""
        spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        params = spec.get("space") or {}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ValueError(f"{path}: {unknown} are not training or model options")
        for name, dist in params.items():
            if dist.get("type") not in ("float", "int", "categorical"):
                raise ValueError(f"{path}: {name} needs type float, int or categorical")
        return cls(params=params, sampler=spec.get("sampler", "tpe"), pruner=spec.get("pruner", "median"))

    def suggest(self, trial: optuna.Trial) -> dict:
        """Sample one set of parameters (also works on ``optuna.trial.FixedTrial``)."""
        values = {}
        for name, dist in self.params.items():
            kind = dist["type"]
            if kind == "categorical":
                values[name] = trial.suggest_categorical(name, dist["choices"])
            elif kind == "int":
                values[name] = trial.suggest_int(name, int(dist["low"]), int(dist["high"]), log=dist.get("log", False))
            else:
                values[name] = trial.suggest_float(
                    name, float(dist["low"]), float(dist["high"]), log=dist.get("log", False)
                )
        return values

    def make_sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
        return samplers[self.sampler](seed=seed)

    def make_pruner(self, world_size: int) -> optuna.pruners.BasePruner:
        if world_size > 1 or self.pruner == "none":
            return optuna.pruners.NopPruner()
        return optuna.pruners.MedianPruner(n_startup_trials=2)


def storage_url(args: SearchArguments, output_dir: str) -> str:
    """The study's storage: the flag, else an SQLite file in the output folder."""
    if args.storage:
        return args.storage
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(output_dir).resolve() / 'optuna.db'}"


def finished_trials(study_name: str, storage: str) -> int:
    """Finished trials already in the study (0 if it does not exist yet)."""
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return 0
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def broadcast_from_main(value, process_index: int):
    """Every rank gets rank 0's ``value`` (no-op outside distributed runs)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return value
    box = [value if process_index == 0 else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def best_objective(trainer):
    """Objective = best validation macro-F1 seen so far in the trial, not the last epoch's."""

    def compute_objective(metrics: dict[str, float]) -> float:
        best = trainer.state.best_metric
        current = metrics["eval_macro_f1"]
        return current if best is None else max(current, best)

    return compute_objective


def run_search(trainer, space: SearchSpace, args: SearchArguments, output_dir: str) -> dict:
    """Run the remaining trials and return the best parameters, on every rank."""
    training_args = trainer.args
    storage = storage_url(args, output_dir) if training_args.process_index == 0 else None
    done = finished_trials(args.study_name, storage) if training_args.process_index == 0 else None
    remaining = broadcast_from_main(max(0, args.n_trials - (done or 0)), training_args.process_index)
    if training_args.process_index == 0:
        logger.info("Study %r: %d trials finished, %d to run", args.study_name, done, remaining)
    if remaining:
        trainer.hyperparameter_search(
            hp_space=space.suggest,
            compute_objective=best_objective(trainer),
            n_trials=remaining,
            direction="maximize",
            backend="optuna",
            study_name=args.study_name,
            storage=storage,
            load_if_exists=True,
            sampler=space.make_sampler(training_args.seed),
            pruner=space.make_pruner(training_args.world_size),
        )
    best = None
    if training_args.process_index == 0:
        study = optuna.load_study(study_name=args.study_name, storage=storage)
        best = study.best_trial.params
        write_search_report(study, Path(output_dir))
        for run_dir in Path(output_dir).glob("run-*"):  # per-trial checkpoints, no longer needed
            shutil.rmtree(run_dir, ignore_errors=True)
    return broadcast_from_main(best, training_args.process_index)


def apply_params(params: dict, *targets) -> None:
    """Set each parameter on the first dataclass instance that has a field of that name."""
    for name, value in params.items():
        for target in targets:
            if name in {f.name for f in fields(target)}:
                current = getattr(target, name)
                setattr(target, name, type(current)(value) if current is not None else value)
                break


def write_search_report(study: optuna.Study, folder: Path) -> None:
    """Trials table (CSV), best trial and parameter importances (JSON), optimisation history (PNG)."""
    folder = folder / "search"
    folder.mkdir(parents=True, exist_ok=True)
    study.trials_dataframe().to_csv(folder / "trials.csv", index=False)
    best = study.best_trial
    summary = {
        "study_name": study.study_name,
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "n_finished": len(study.get_trials(deepcopy=False, states=FINISHED)),
        "importances": _importances(study),
    }
    (folder / "best_trial.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _plot_history(study, folder / "history.png")


def _importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importances; empty when there are too few completed trials to fit them."""
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError) as err:
        logger.warning("No parameter importances: %s", err)
        return {}


def _plot_history(study: optuna.Study, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    values = [t.value for t in trials]
    best_so_far = [max(values[: i + 1]) for i in range(len(values))]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([t.number for t in trials], values, "o", label="trial")
    ax.plot([t.number for t in trials], best_so_far, "-", label="best so far")
    ax.set(xlabel="trial", ylabel="validation macro-F1", title=f"Optuna study {study.study_name}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
