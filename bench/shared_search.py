"""Wall time of one shared Optuna study run by 1 worker and by N workers (coordinator + --search_only).

    python bench/shared_search.py --storage postgresql+psycopg://user:pw@127.0.0.1:5432/db \\
        --n_trials 4 --workers 1,2 -- --data_dir ../shared/tweeteval/hate --max_train_samples 1000 \\
        --max_eval_samples 500 --max_steps 20 --report_to none

Each setting runs a fresh study (its own study name) with the same total of trials; workers are
separate `train.py` processes with their own process groups and output folders, as machines would
be, and share the machine's cores (OMP_NUM_THREADS = cores / workers). Reports wall time, trials
per worker and the best validation macro-F1. Writes bench/results/shared_search-<time>.json.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter

import optuna
from common import REPO_ROOT, describe, machine, markdown_table, save


def run_study(storage: str, study: str, n_trials: int, workers: int, train_args: list[str]) -> dict:
    threads = max(1, len(os.sched_getaffinity(0)) // workers)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(REPO_ROOT)}
    started, processes = time.perf_counter(), []
    for index in range(workers):
        role = [] if index == 0 else ["--search_only"]
        output = tempfile.mkdtemp(prefix=f"shared-search-{index}-")
        command = [sys.executable, str(REPO_ROOT / "train.py"), *train_args, "--search", "--storage", storage,
                   "--study_name", study, "--n_trials", str(n_trials), "--output_dir", output, *role]  # fmt: skip
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))  # fmt: skip
    codes = [process.wait() for process in processes]
    wall = time.perf_counter() - started
    result = optuna.load_study(study_name=study, storage=storage)
    finished = [
        t for t in result.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    per_worker = Counter(t.user_attrs.get("worker", "?") for t in finished)
    return {"workers": workers, "exit_codes": codes, "wall_s": wall, "finished": len(finished),
            "trials_per_worker": sorted(per_worker.values(), reverse=True), "best": result.best_value}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", required=True)
    parser.add_argument("--n_trials", type=int, default=4)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="After --: arguments for train.py.")
    args = parser.parse_args()
    train_args = [a for a in args.train_args if a != "--"]
    stamp = time.strftime("%H%M%S")
    rows = [run_study(args.storage, f"bench-{stamp}-{n}", args.n_trials, int(n), train_args)
            for n in args.workers.split(",")]  # fmt: skip
    print(f"Machine: {describe(machine())}")
    headers = ["workers", "wall s", "finished trials", "trials per worker", "best val macro-F1", "exit codes"]
    print(markdown_table(headers,
                         [[r["workers"], f"{r['wall_s']:.1f}", r["finished"], r["trials_per_worker"],
                           f"{r['best']:.4f}", r["exit_codes"]] for r in rows]))  # fmt: skip
    print(f"Results written to {save('shared_search', {'rows': rows, 'train_args': train_args})}")


if __name__ == "__main__":
    main()
