"""One Optuna study shared by independent workers on a real PostgreSQL server (loopback, throw-away).

Each worker is a separate `python train.py --search` process in its own process group and output
folder, as two machines would be; they share only the storage URL and the study name.
"""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import EVERY_STEP
from helpers.postgres import PostgresCluster, postgres_bin
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

import train
from hatespeech.training.study import FINISHED

REPO_ROOT = Path(__file__).resolve().parents[2]


def _skip_reason() -> str | None:
    if postgres_bin() is None:
        return "PostgreSQL is not installed (make test installs Debian's postgresql)"
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        return "running as root without Debian's postgres user to own the cluster"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")]


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


def worker_command(train_args: list[str], output_dir: Path, url: str, study: str, n_trials: int, *extra) -> list:
    args = [a for a in train_args]
    args[args.index("--output_dir") + 1] = str(output_dir)
    return [sys.executable, str(REPO_ROOT / "train.py"), *args, "--search", "--storage", url, "--study_name", study,
            "--n_trials", str(n_trials), "--max_steps", "6", *EVERY_STEP, *extra]  # fmt: skip


def start(command: list, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


@functools.cache
def storage(url: str) -> optuna.storages.RDBStorage:
    """One storage (one connection pool) per server for the test's own reads, however often it polls."""
    return optuna.storages.RDBStorage(url)


def trials(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=study, storage=storage(url)).get_trials(deepcopy=False)


def test_two_workers_fill_one_study_and_the_coordinator_retrains_once(postgres, train_args, tmp_path):
    coordinator = start(worker_command(train_args, tmp_path / "a", postgres.url, "two", 6), tmp_path / "a.log")
    worker = start(worker_command(train_args, tmp_path / "b", postgres.url, "two", 6, "--search_only"),
                   tmp_path / "b.log")  # fmt: skip
    assert worker.wait(600) == 0, (tmp_path / "b.log").read_text()[-3000:]
    assert coordinator.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]
    finished = [t for t in trials(postgres.url, "two") if t.state in FINISHED]
    assert len(finished) == 6
    workers = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in finished}
    assert workers == {str(coordinator.pid), str(worker.pid)}, "both workers ran trials"
    assert (tmp_path / "a" / "config.json").is_file() and (tmp_path / "a" / "search" / "best_trial.json").is_file()
    assert not (tmp_path / "b" / "config.json").exists(), "only the coordinator retrains and saves"
    recorded = (tmp_path / "a" / "run_config.yaml").read_text()  # published with the model: no password in it
    assert "s3cret-test-pw" not in recorded and ":***@" in recorded


def test_two_coordinators_at_once_retrain_once_and_never_repeat_parameters(postgres, train_args, tmp_path):
    """Both used to retrain, and both samplers (seeded alike) proposed the same first parameters."""
    first = start(worker_command(train_args, tmp_path / "a", postgres.url, "twins", 4), tmp_path / "a.log")
    second = start(worker_command(train_args, tmp_path / "b", postgres.url, "twins", 4), tmp_path / "b.log")
    assert first.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]
    assert second.wait(600) == 0, (tmp_path / "b.log").read_text()[-3000:]
    retrained = [name for name in ("a", "b") if (tmp_path / name / "config.json").is_file()]
    assert len(retrained) == 1, "exactly one coordinator retrains"
    yielded = "b" if retrained == ["a"] else "a"
    assert "this run works as an extra worker" in (tmp_path / f"{yielded}.log").read_text()
    finished = [t for t in trials(postgres.url, "twins") if t.state in FINISHED]
    assert len(finished) == 4 and len({t.params["learning_rate"] for t in finished}) == 4
    summary = json.loads((tmp_path / retrained[0] / "search" / "best_trial.json").read_text())
    assert summary["n_finished"] == 4


def test_a_worker_with_another_total_is_refused(postgres, train_args, tmp_path):
    """A coordinator with 2 trials and a worker with 5: the study ran 5, the coordinator retrained from 2."""
    coordinator = start(worker_command(train_args, tmp_path / "a", postgres.url, "totals", 2), tmp_path / "a.log")
    deadline = time.monotonic() + 300
    while not any(t.state == TrialState.RUNNING for t in _safe_trials(postgres.url, "totals")):
        assert time.monotonic() < deadline and coordinator.poll() is None, (tmp_path / "a.log").read_text()[-2000:]
        time.sleep(0.1)
    command = worker_command(train_args, tmp_path / "b", postgres.url, "totals", 5, "--search_only")
    worker = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True)
    assert worker.returncode == 2 and "holds a total of 2 trials; this run asks for 5" in worker.stderr
    assert "Traceback" not in worker.stderr
    assert coordinator.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]
    assert sum(t.state in FINISHED for t in trials(postgres.url, "totals")) == 2


def test_a_worker_rides_out_a_database_outage_mid_trial(postgres, train_args, tmp_path):
    """PostgreSQL stopped for 12 s while a trial runs: the worker used to end in tracebacks
    (UnboundLocalError 'updated_state') and leave the trial RUNNING."""
    slow = ["--max_steps", "40"]  # a trial long enough to be running when the database goes away
    coordinator = start(worker_command(train_args, tmp_path / "a", postgres.url, "outage", 2, *slow),
                        tmp_path / "a.log")  # fmt: skip
    deadline = time.monotonic() + 300
    while not any(t.state == TrialState.RUNNING for t in _safe_trials(postgres.url, "outage")):
        assert time.monotonic() < deadline and coordinator.poll() is None, (tmp_path / "a.log").read_text()[-2000:]
        time.sleep(0.1)
    storage.cache_clear()  # the test's own connections die with the server
    postgres.pause()
    time.sleep(12)
    postgres.resume()
    assert coordinator.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]
    log = (tmp_path / "a.log").read_text()
    assert "The study storage is not answering" in log and "Traceback" not in log
    storage.cache_clear()
    states = [t.state for t in trials(postgres.url, "outage")]
    assert states.count(TrialState.COMPLETE) + states.count(TrialState.PRUNED) == 2
    assert TrialState.RUNNING not in states


def test_a_killed_workers_trial_is_failed_and_rerun(postgres, train_args, tmp_path):
    heartbeat = ["--heartbeat_interval", "1", "--grace_period", "3"]
    coordinator = start(worker_command(train_args, tmp_path / "a", postgres.url, "kill", 5, *heartbeat),
                        tmp_path / "a.log")  # fmt: skip
    worker = start(worker_command(train_args, tmp_path / "b", postgres.url, "kill", 5, "--search_only", *heartbeat),
                   tmp_path / "b.log")  # fmt: skip
    deadline, victim = time.monotonic() + 300, None
    while victim is None:  # wait until the worker is in the middle of a trial, then kill it
        assert time.monotonic() < deadline and worker.poll() is None, (tmp_path / "b.log").read_text()[-2000:]
        running = [t for t in _safe_trials(postgres.url, "kill") if t.state == TrialState.RUNNING
                   and t.user_attrs.get("worker", "").endswith(f":{worker.pid}")]  # fmt: skip
        victim = running[0] if running else None
        time.sleep(0.1)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(30)
    assert coordinator.wait(600) == 0, (tmp_path / "a.log").read_text()[-3000:]

    by_number = {t.number: t for t in trials(postgres.url, "kill")}
    assert by_number[victim.number].state == TrialState.FAIL
    reruns = [
        t for t in by_number.values() if RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == victim.number
    ]
    assert len(reruns) == 1 and reruns[0].state in FINISHED and reruns[0].params == victim.params
    assert sum(t.state in FINISHED for t in by_number.values()) == 5
    assert (
        f"Trial {victim.number} of worker {victim.user_attrs['worker']} has had no heartbeat"
        in (tmp_path / "a.log").read_text()
    )


def _safe_trials(url: str, study: str):
    try:
        return trials(url, study)
    except KeyError:  # the study is not created yet
        return []


def test_bad_storage_input_is_one_line(postgres, train_args, capsys):
    wrong_password = postgres.url.replace("s3cret-test-pw", "nope")
    unreachable = "postgresql+psycopg://hatespeech:pw@127.0.0.1:9/postgres"
    minimising = optuna.create_study(study_name="minimising", storage=storage(postgres.url), direction="minimize")
    other_space = optuna.create_study(study_name="other-space", storage=storage(postgres.url), direction="maximize")
    other_space.add_trial(optuna.trial.create_trial(
        params={"learning_rate": 0.5}, distributions={"learning_rate": optuna.distributions.FloatDistribution(0.1, 1)},
        value=0.5))  # fmt: skip
    cases = [
        (unreachable, "x", "cannot open the study storage postgresql+psycopg://hatespeech:***@127.0.0.1:9/postgres"),
        (wrong_password, "x", "password authentication failed"),
        (postgres.url, minimising.study_name, "minimises"),
        (postgres.url, other_space.study_name, "searched learning_rate over"),
    ]
    for url, study, message in cases:
        assert train.main([*train_args, "--search", "--storage", url, "--study_name", study, "--n_trials", "1"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and "Traceback" not in "\n".join(err)
        assert "nope" not in err[-1]


def test_optuna_dashboard_serves_the_study(postgres, tmp_path):
    from helpers.serving_fixtures import free_port

    optuna.create_study(study_name="watched", storage=storage(postgres.url), direction="maximize")
    port = free_port()
    command = [str(Path(sys.executable).parent / "optuna-dashboard"), postgres.url, "--host", "127.0.0.1",
               "--port", str(port), "--quiet"]  # fmt: skip
    dashboard = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=(tmp_path / "dashboard.log").open("w"))
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                studies = httpx.get(f"http://127.0.0.1:{port}/api/studies", timeout=5).json()["study_summaries"]
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and dashboard.poll() is None, (
                    tmp_path / "dashboard.log"
                ).read_text()
                time.sleep(0.5)
        assert "watched" in [s["study_name"] for s in studies]
        assert httpx.get(f"http://127.0.0.1:{port}/dashboard", timeout=5).status_code == 200
    finally:
        dashboard.terminate()
        dashboard.wait(30)
