"""Optuna hyperparameter search through ``Trainer.hyperparameter_search``.

The study lives in an Optuna storage (an SQLite file by default, any RDB URL otherwise, e.g.
PostgreSQL), so a search can be resumed and several processes or machines can join it by sharing
the storage URL and study name. ``--n_trials`` is the total number of finished trials the study
should hold, across all workers: each worker starts a trial only while the study has room, and a
trial that finds the budget already taken by trials numbered before it (a race between workers)
stops at once and is marked FAIL with ``surplus`` set.

One command is the coordinator (plain ``--search``): when the study is full it waits for the
trials still running elsewhere, then retrains the best trial and saves the model, so that happens
exactly once. Extra workers run ``--search_only``: they run trials while there is room and exit.
Every worker keeps a heartbeat on its running trial; a trial whose worker died (no heartbeat for
``--grace_period`` seconds) is marked FAIL by the next worker that looks, and Optuna's
``RetryFailedTrialCallback`` queues the same parameters again, so a killed worker loses nothing.

Under DDP, transformers runs the study on rank 0 and broadcasts each trial's parameters; it
returns nothing on the other ranks, and Optuna's pruning is not DDP-safe (only rank 0 would stop).
So pruning is switched off when ``world_size > 1`` and the best parameters are broadcast here.
"""

import json
import logging
import os
import shutil
import socket
import time
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import optuna
import torch
import yaml
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from hatespeech.config import REPO_ROOT
from hatespeech.run_folder import RunFolder

logger = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Trials that hold a place in the budget: finished, running, or queued for a retry.
ACTIVE = (*FINISHED, TrialState.RUNNING, TrialState.WAITING)


# Heartbeats and their retry callback are marked experimental in Optuna; they are what RDB studies rely on.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class SearchError(ValueError):
    """A study that cannot be opened or joined; the message is one line, without the password."""


class StudyFull(Exception):
    """This trial was started after the study had reached its total (a race between workers)."""


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
    return (
        bool(args.search)
        and recorded.get("search") is True
        and all(recorded.get(name) == getattr(args, name) for name in ("storage", "study_name"))
    )


def storage_url(args: SearchArguments, output_dir: str) -> str:
    """The study's storage: the flag, else an SQLite file in the output folder."""
    if args.storage:
        return args.storage
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(output_dir).resolve() / 'optuna.db'}"


def shown_url(url: str) -> str:
    """The storage URL for messages and logs, password masked."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: show the scheme only
        return url.split("://", 1)[0] + "://..."


class LoggedRetry(RetryHeartbeatStaleTrialCallback):
    """Optuna's retry of a trial whose worker stopped beating, said in the log of the worker that noticed."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        logger.warning(
            "Trial %d of worker %s has had no heartbeat for the grace period: marked FAIL, its parameters queued again",
            trial.number, trial.user_attrs.get("worker", "?"),
        )  # fmt: skip
        super().__call__(study, trial)


def open_storage(url: str, args: SearchArguments, attempts: int = 5) -> RDBStorage:
    """The RDB storage with heartbeats on and dead workers' trials retried."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(1, attempts + 1):
        try:
            return RDBStorage(
                url,
                heartbeat_interval=args.heartbeat_interval,
                grace_period=args.grace_period,
                heartbeat_stale_trial_callback=LoggedRetry(max_retry=args.max_retry),
            )
        except (IntegrityError, ProgrammingError) as err:
            # Workers that start together on an empty database race to create Optuna's tables;
            # the loser sees a duplicate table or type and finds the tables there on the next try.
            if attempt == attempts:
                raise SearchError(f"cannot open the study storage {shown_url(url)}: {_first_line(err)}") from None
            logger.info("Optuna's tables are being created by another worker; retrying")
            time.sleep(attempt)
        except Exception as err:  # SQLAlchemy's errors (unreachable host, wrong password, no driver) and bad URLs
            raise SearchError(f"cannot open the study storage {shown_url(url)}: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def open_study(storage: RDBStorage, args: SearchArguments, space: SearchSpace, sampler) -> optuna.Study:
    """Create the study or join it; refuse one made for another direction or search space."""
    try:
        existing = optuna.load_study(study_name=args.study_name, storage=storage)
    except KeyError:
        return optuna.create_study(
            study_name=args.study_name, storage=storage, direction="maximize", sampler=sampler, load_if_exists=True
        )
    if existing.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise SearchError(
            f"study {args.study_name!r} minimises; this search maximises validation macro-F1: use another --study_name"
        )
    wanted = space.distributions()
    for trial in existing.get_trials(deepcopy=False):
        for name, distribution in trial.distributions.items():
            if name in wanted and distribution != wanted[name]:
                raise SearchError(
                    f"study {args.study_name!r} searched {name} over {distribution}, not {wanted[name]} as "
                    f"{args.search_space} says: use the same search space or another --study_name"
                )
    return optuna.load_study(study_name=args.study_name, storage=storage, sampler=sampler)


def finished_trials(study_name: str, storage) -> int:
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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def within_budget(suggest, n_trials: int, worker: str):
    """``suggest`` that first claims the trial's place in the budget and records which worker runs it."""

    def hp_space(trial):
        if isinstance(trial, optuna.Trial) and "worker" not in trial.user_attrs:
            trial.set_user_attr("worker", worker)
            before = [t for t in trial.study.get_trials(deepcopy=False, states=ACTIVE) if t.number < trial.number]
            if len(before) >= n_trials:
                trial.set_user_attr("surplus", True)
                raise StudyFull(f"trial {trial.number}: the study already holds {n_trials} trials")
        return suggest(trial)

    return hp_space


def run_search(trainer, space: SearchSpace, args: SearchArguments, output_dir: str) -> dict | None:
    """Run trials until the study holds ``n_trials``; the best parameters on every rank (None for a
    ``--search_only`` worker, which leaves the retraining to the coordinator)."""
    if trainer.args.world_size > 1:
        return _run_search_ddp(trainer, space, args, output_dir)
    url = storage_url(args, output_dir)
    storage = open_storage(url, args)
    # A --search_only worker samples with its own randomness, so two workers do not repeat each other.
    sampler = space.make_sampler(None if args.search_only else trainer.args.seed)
    study = open_study(storage, args, space, sampler)
    worker = worker_name()
    hp_space = within_budget(space.suggest, args.n_trials, worker)
    logger.info("Worker %s joins study %r in %s", worker, args.study_name, shown_url(url))
    waited = False
    while True:
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
        elif args.search_only:
            break
        else:
            if not waited:
                logger.info("Study full; waiting for %d trial(s) running on other workers", len(states) - finished)
            waited = True
            time.sleep(min(args.heartbeat_interval, 5))
    _remove_trial_folders(output_dir)
    if args.search_only:
        logger.info("Study %r holds %d finished trials; the coordinator retrains the best", args.study_name, finished)
        return None
    write_search_report(study, RunFolder(output_dir))
    return study.best_trial.params


def _run_search_ddp(trainer, space: SearchSpace, args: SearchArguments, output_dir: str) -> dict:
    """Under DDP, rank 0 runs the study and broadcasts; this process group is one worker of the study."""
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
        write_search_report(study, RunFolder(output_dir))
        _remove_trial_folders(output_dir)
    return broadcast_from_main(best, training_args.process_index)


def _remove_trial_folders(output_dir: str) -> None:
    for run_dir in Path(output_dir).glob("run-*"):  # per-trial checkpoints, no longer needed
        shutil.rmtree(run_dir, ignore_errors=True)


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


def write_search_report(study: optuna.Study, run: RunFolder) -> None:
    """Trials table (CSV), best trial and parameter importances (JSON), optimisation history (PNG)."""
    study.trials_dataframe().to_csv(run.search_file("trials.csv"), index=False)
    best = study.best_trial
    summary = {
        "study_name": study.study_name,
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "n_finished": len(study.get_trials(deepcopy=False, states=FINISHED)),
        "importances": _importances(study),
    }
    run.search_file("best_trial.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    _plot_history(study, run.search_file("history.png"))


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
