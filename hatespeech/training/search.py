"""Optuna hyperparameter search through ``Trainer.hyperparameter_search``: the options, the search space,
and the loop that runs trials until the study is full.

One command is the coordinator (plain ``--search``): when the study is full it waits for the trials
still running elsewhere, then retrains the best trial and saves the model, so that happens exactly
once; a second coordinator on a study that has a live one works as an extra worker instead. Extra
workers run ``--search_only``: they run trials while there is room and exit. The shared study
(storage, budget, heartbeats, coordinator) is ``hatespeech.training.study``; DDP is ``hatespeech.training.search_ddp``;
the files a search leaves are ``hatespeech.training.search_report``.
"""

import logging
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from hatespeech.config import REPO_ROOT, masked_url
from hatespeech.run_folder import RunFolder
from hatespeech.training.search_ddp import run_search_ddp
from hatespeech.training.search_report import write_search_report
from hatespeech.training.study import (
    ACTIVE,
    FINISHED,
    SearchError,
    StudyFull,
    claim_coordination,
    keep_coordinating,
    open_storage,
    open_study,
    release_coordination,
    remove_trial_folders,
    sampler_seed,
    shown_url,
    storage_url,
    within_budget,
    worker_name,
)

logger = logging.getLogger(__name__)

__all__ = ["FINISHED", "SearchArguments", "SearchError", "SearchSpace", "apply_params", "run_search"]


@dataclass
class SearchArguments:
    """Hyperparameter search (used with --search)."""

    search: bool = field(default=False, metadata={"help": "Run an Optuna search, then retrain with the best trial."})
    n_trials: int = field(default=10, metadata={"help": "Total finished trials the study should hold."})
    search_space: str = field(
        default=str(REPO_ROOT / "configs" / "search.yaml"),  # the checkout's, when there is one
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
    search_only: bool = field(
        default=False,
        metadata={
            "help": "An extra worker of a shared study: run trials while it has room, then exit; the command "
            "without this flag (the coordinator) waits for all trials and retrains the best one."
        },
    )
    heartbeat_interval: int = field(default=60, metadata={"help": "Seconds between a running trial's heartbeats."})
    grace_period: int = field(
        default=180, metadata={"help": "A running trial without a heartbeat for this long is FAIL and retried."}
    )
    max_retry: int = field(default=2, metadata={"help": "How often a trial whose worker died is run again."})


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
            raise ValueError(f"{path}: {unknown} are not options a trial can set (training, model, source_temperature)")
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

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        """Each parameter's Optuna distribution, to compare with a study's earlier trials."""
        return {name: _distribution(dist) for name, dist in self.params.items()}

    def make_sampler(self, seed: int | None) -> optuna.samplers.BaseSampler:
        samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
        return samplers[self.sampler](seed=seed)

    def make_pruner(self, world_size: int) -> optuna.pruners.BasePruner:
        if world_size > 1 or self.pruner == "none":
            return optuna.pruners.NopPruner()
        return optuna.pruners.MedianPruner(n_startup_trials=2)


def continues_study(args: SearchArguments, recorded: dict) -> bool:
    """Whether this run adds trials to the study an earlier run in the same folder recorded (a resume)."""
    storage = masked_url(args.storage) if args.storage else None  # as run_config.yaml records it
    return bool(args.search) and recorded.get("search") is True and (recorded.get("storage"), recorded.get(
        "study_name")) == (storage, args.study_name)  # fmt: skip


def best_objective(trainer):
    """Objective = best validation macro-F1 seen so far in the trial, not the last epoch's."""

    def compute_objective(metrics: dict[str, float]) -> float:
        best = trainer.state.best_metric
        current = metrics["eval_macro_f1"]
        return current if best is None else max(current, best)

    return compute_objective


def run_search(trainer, space: SearchSpace, args: SearchArguments, output_dir: str, trial_log=None) -> dict | None:
    """Run trials until the study holds ``n_trials``; the best parameters on every rank (None for a
    ``--search_only`` worker, which leaves the retraining to the coordinator). ``trial_log``
    (:class:`hatespeech.training.tracking.TrialLog`) logs each finished trial to MLflow."""
    if trainer.args.world_size > 1:
        return run_search_ddp(trainer, space, args, output_dir, best_objective(trainer))
    url = storage_url(args, output_dir)
    storage = open_storage(url, args)
    worker = worker_name()
    sampler = space.make_sampler(sampler_seed(trainer.args.seed, args.study_name, worker))
    study = open_study(storage, args, space, sampler)
    hp_space = within_budget(space.suggest, args.n_trials, worker)
    logger.info("Worker %s joins study %r in %s", worker, args.study_name, shown_url(url))
    coordinating = not args.search_only
    if coordinating and (holder := claim_coordination(study, worker, args.grace_period)) is not None:
        logger.warning("Study %r is coordinated by %s, which retrains the best trial: this run works as an "
                       "extra worker (as with --search_only) and exits when the study is full",
                       args.study_name, holder)  # fmt: skip
        coordinating = False
    waited = False
    while True:
        if coordinating:
            keep_coordinating(study)
        optuna.storages.fail_stale_trials(study)  # dead workers' trials: FAIL, then queued again
        states = [t.state for t in study.get_trials(deepcopy=False, states=ACTIVE)]
        finished = sum(state in FINISHED for state in states)
        if finished >= args.n_trials:
            break
        if TrialState.WAITING in states or len(states) < args.n_trials:
            try:
                trainer.hyperparameter_search(
                    hp_space=hp_space, compute_objective=best_objective(trainer), n_trials=1, direction="maximize",
                    backend="optuna", study_name=args.study_name, storage=storage, load_if_exists=True,
                    sampler=sampler, pruner=space.make_pruner(1),
                )  # fmt: skip
            except StudyFull as full:
                logger.info("%s", full)
            if trial_log is not None:
                trial_log.log_finished(study)
        elif not coordinating:
            break
        else:
            if not waited:
                logger.info("Study full; waiting for %d trial(s) running on other workers", len(states) - finished)
            waited = True
            time.sleep(min(args.heartbeat_interval, 5))
    remove_trial_folders(output_dir)
    if not coordinating:
        logger.info("Study %r holds %d finished trials; the coordinator retrains the best", args.study_name, finished)
        return None
    release_coordination(study, worker)
    if trial_log is not None:
        trial_log.log_finished(study)  # other workers' trials too
        trial_log.tag_best(study)
    write_search_report(study, RunFolder(output_dir))
    return study.best_trial.params


def _distribution(dist: dict) -> optuna.distributions.BaseDistribution:
    if dist["type"] == "categorical":
        return optuna.distributions.CategoricalDistribution(dist["choices"])
    if dist["type"] == "int":
        return optuna.distributions.IntDistribution(int(dist["low"]), int(dist["high"]), log=dist.get("log", False))
    return optuna.distributions.FloatDistribution(float(dist["low"]), float(dist["high"]), log=dist.get("log", False))


def apply_params(params: dict, *targets) -> None:
    """Set each parameter on the first dataclass instance that has a field of that name."""
    for name, value in params.items():
        for target in targets:
            if name in {f.name for f in fields(target)}:
                current = getattr(target, name)
                setattr(target, name, type(current)(value) if current is not None else value)
                break
