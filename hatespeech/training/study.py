"""A study shared by workers: its storage, its budget of trials, heartbeats, and which worker ran what.

The study lives in an Optuna storage (an SQLite file by default, any RDB URL otherwise, e.g.
PostgreSQL), so a search can be resumed and several processes or machines can join it by sharing
the storage URL and study name. ``--n_trials`` is the total number of finished trials the study
should hold, across all workers; it is stored with the study when the study is created, and a
worker that asks for another total is refused (only a coordinator may grow it, and only while the
study is idle, with no trial running and no live coordinator: extending a finished study). Each worker starts a trial
only while the study has room, and a trial that finds the budget already taken by trials numbered
before it (a race between workers) stops at once and is marked FAIL with ``surplus`` set.

Every worker keeps a heartbeat on its running trial; a trial whose worker died (no heartbeat for
``--grace_period`` seconds) is marked FAIL by the next worker that looks, and Optuna's
``RetryFailedTrialCallback`` queues the same parameters again, so a killed worker loses nothing;
the trial records the worker that ran it last. One coordinator holds a study at a time (its name
and when it was last seen are stored with the study). Each worker's sampler is seeded from ``--seed``,
the study name and the worker's name (host and process id), so two workers, or a restarted one,
do not propose the same parameters.
"""

import functools
import hashlib
import inspect
import logging
import os
import shutil
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from hatespeech.errors import first_line

logger = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# Trials that hold a place in the budget: finished, running, or queued for a retry.
ACTIVE = (*FINISHED, TrialState.RUNNING, TrialState.WAITING)
TOTAL_ATTR = "n_trials"  # the study's budget, stored with it
COORDINATOR_ATTR, SEEN_ATTR = "coordinator", "coordinator_seen"  # who retrains, and when it was last seen
CLAIM_SETTLE_S = 1.0
STORAGE_PATIENCE_S = float(os.environ.get("HATESPEECH_STORAGE_PATIENCE_S", "120"))

# Heartbeats and their retry callback are marked experimental in Optuna; they are what RDB studies rely on.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class SearchError(ValueError):
    """A study that cannot be opened or joined; the message is one line, without the password."""


class StudyFull(Exception):
    """This trial was started after the study had reached its total (a race between workers)."""


def storage_url(args, output_dir: str) -> str:
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


class PatientStorage(RDBStorage):
    """An RDB storage that rides out a short database outage: a call that fails to reach the database is
    retried for up to ``STORAGE_PATIENCE_S`` seconds (backing off to 5 s), then ends in one line. Without it
    a 12 s restart of PostgreSQL mid-trial ended the worker in tracebacks and left its trial RUNNING."""

    def __getattribute__(self, name: str):
        attribute = super().__getattribute__(name)
        # Private methods too: Optuna's cached storage calls e.g. _set_trial_param and _update_trial directly.
        if name.startswith("__") or not inspect.ismethod(attribute):
            return attribute
        return functools.partial(_patiently, attribute, self)


def _patiently(call, storage: RDBStorage, *args, **kwargs):
    from sqlalchemy.exc import IntegrityError, SQLAlchemyError

    deadline, delay, said = time.monotonic() + STORAGE_PATIENCE_S, 0.5, False
    while True:
        try:
            return call(*args, **kwargs)
        except IntegrityError:  # a race between workers, which Optuna and open_storage handle themselves
            raise
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError) as err:
            if time.monotonic() >= deadline:
                waited = f"{STORAGE_PATIENCE_S:.0f} s: {first_line(err.__cause__ or err)}"
                raise SearchError(f"the study storage {shown_url(storage.url)} did not answer for {waited}") from None
            # The thread's session is left waiting for a rollback the dead connection could not do: drop it,
            # so the next attempt starts a fresh one.
            storage.scoped_session.remove()
            if not said:
                logger.warning("The study storage is not answering (%s); retrying for up to %.0f s",
                               first_line(err.__cause__ or err), STORAGE_PATIENCE_S)  # fmt: skip
                said = True
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def open_storage(url: str, args, attempts: int = 5) -> RDBStorage:
    """The RDB storage with heartbeats on and dead workers' trials retried."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(1, attempts + 1):
        try:
            return PatientStorage(
                url,
                heartbeat_interval=args.heartbeat_interval,
                grace_period=args.grace_period,
                heartbeat_stale_trial_callback=LoggedRetry(max_retry=args.max_retry),
            )
        except (IntegrityError, ProgrammingError) as err:
            # Workers that start together on an empty database race to create Optuna's tables;
            # the loser sees a duplicate table or type and finds the tables there on the next try.
            if attempt == attempts:
                raise SearchError(f"cannot open the study storage {shown_url(url)}: {first_line(err)}") from None
            logger.info("Optuna's tables are being created by another worker; retrying")
            time.sleep(attempt)
        except Exception as err:  # SQLAlchemy's errors (unreachable host, wrong password, no driver) and bad URLs
            raise SearchError(f"cannot open the study storage {shown_url(url)}: {first_line(err)}") from None


def open_study(storage: RDBStorage, args, space, sampler) -> optuna.Study:
    """Create the study (storing its total) or join it; refuse one made for another total, direction or space."""
    try:
        existing = optuna.load_study(study_name=args.study_name, storage=storage)
    except KeyError:
        created = optuna.create_study(
            study_name=args.study_name, storage=storage, direction="maximize", sampler=sampler, load_if_exists=True
        )
        created.set_user_attr(TOTAL_ATTR, created.user_attrs.get(TOTAL_ATTR, args.n_trials))  # a racing creator's
        existing = created
    total = existing.user_attrs.get(TOTAL_ATTR)
    holder = existing.user_attrs.get(COORDINATOR_ATTR)
    busy = existing.get_trials(deepcopy=False, states=(TrialState.RUNNING,)) or (
        holder and _alive(existing, holder, args.grace_period))  # fmt: skip
    if total is None or (args.n_trials > total and not busy and not args.search_only):
        # A study made before totals were stored, or an idle one extended by a coordinator (no trial running,
        # no live coordinator; an extra worker never moves the total, no coordinator would see its trials).
        existing.set_user_attr(TOTAL_ATTR, args.n_trials)
    elif total != args.n_trials:
        raise SearchError(
            f"study {args.study_name!r} holds a total of {total} trials; this run asks for {args.n_trials}: give "
            f"--n_trials {total} on every worker (only a coordinator of an idle study can grow it), or use another "
            "--study_name"
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


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def within_budget(suggest, n_trials: int, worker: str):
    """``suggest`` that first claims the trial's place in the budget and records which worker runs it."""

    def hp_space(trial):
        # A retried trial arrives with the dead worker's attributes copied: this worker claims it anew.
        if isinstance(trial, optuna.Trial) and trial.user_attrs.get("worker") != worker:
            trial.set_user_attr("worker", worker)
            before = [t for t in trial.study.get_trials(deepcopy=False, states=ACTIVE) if t.number < trial.number]
            if len(before) >= n_trials:
                trial.set_user_attr("surplus", True)
                raise StudyFull(f"trial {trial.number}: the study already holds {n_trials} trials")
        return suggest(trial)

    return hp_space


def sampler_seed(seed: int, study_name: str, worker: str) -> int:
    """A worker's sampler seed: the run's seed, the study and the worker (so workers do not repeat each other)."""
    return int(hashlib.sha256(f"{seed}/{study_name}/{worker}".encode()).hexdigest()[:8], 16)


def remove_trial_folders(output_dir: str) -> None:
    for run_dir in Path(output_dir).glob("run-*"):  # per-trial checkpoints, no longer needed
        shutil.rmtree(run_dir, ignore_errors=True)


def claim_coordination(study: optuna.Study, worker: str, grace_period: float) -> str | None:
    """Make ``worker`` the study's coordinator, the one that retrains; the live coordinator's name when the
    study has one already. A coordinator is live while it has a running trial or was seen within
    ``grace_period`` seconds (it says so between trials and while it waits)."""
    holder = study.user_attrs.get(COORDINATOR_ATTR)
    if holder and holder != worker and _alive(study, holder, grace_period):
        return holder
    study.set_user_attr(COORDINATOR_ATTR, worker)
    keep_coordinating(study)
    time.sleep(CLAIM_SETTLE_S)  # two coordinators started together: the last claim stands, the other yields
    holder = study.user_attrs.get(COORDINATOR_ATTR)
    return None if holder == worker else holder


def keep_coordinating(study: optuna.Study) -> None:
    study.set_user_attr(SEEN_ATTR, time.time())


def release_coordination(study: optuna.Study, worker: str) -> None:
    if study.user_attrs.get(COORDINATOR_ATTR) == worker:
        study.set_user_attr(COORDINATOR_ATTR, None)


def _alive(study: optuna.Study, holder: str, grace_period: float) -> bool:
    if time.time() - study.user_attrs.get(SEEN_ATTR, 0) < grace_period:
        return True
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return any(trial.user_attrs.get("worker") == holder for trial in running)
