"""Cold start of train.py: seconds from launching the process to its first training step.

    python bench/cold_start.py --data_dir ../shared/tweeteval/hate --repeats 3

Launches `python train.py` with the default configuration and reports when the first training
step begins, split into phases seen from inside the process (imports, data loading and
tokenisation, model and Trainer set-up, Trainer start-up); the run stops there. The baseline row
is the bare interpreter importing torch and transformers. Writes bench/results/cold_start-<time>.json.
(`bench/serve.py` reports the cold start of app.py.)
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPO_ROOT, describe, machine, markdown_table, save

# Runs inside the child: timestamps at the phase boundaries, then exit at the first step.
PROBE = """
import json, os, sys, time
marks = {"launched": float(sys.argv[1])}
marks["interpreter_ready"] = time.time()
sys.path.insert(0, {root!r})
import transformers
import train
from hatespeech.training import steps as training
marks["imports_done"] = time.time()
load_splits, make_trainer = training.load_splits, training.make_trainer
def timed_load(*args, **kwargs):
    marks.setdefault("data_start", time.time())
    return load_splits(*args, **kwargs)
def timed_make(*args, **kwargs):
    marks.setdefault("data_done", time.time())
    return make_trainer(*args, **kwargs)
def first_step(self, *args, **kwargs):
    marks["first_step"] = time.time()
    print("MARKS " + json.dumps(marks), flush=True)
    os._exit(0)
training.load_splits, training.make_trainer = timed_load, timed_make
transformers.Trainer.training_step = first_step
_train = transformers.Trainer.train
def timed_train(self, *args, **kwargs):
    marks.setdefault("trainer_ready", time.time())
    return _train(self, *args, **kwargs)
transformers.Trainer.train = timed_train
sys.exit(train.main(sys.argv[2:]))
"""

PHASES = [
    ("interpreter start", "launched", "interpreter_ready"),
    ("imports (torch, transformers, datasets, project)", "interpreter_ready", "imports_done"),
    ("config parsing, tokenizer", "imports_done", "data_start"),
    ("data loading and tokenisation", "data_start", "data_done"),
    ("model and Trainer set-up", "data_done", "trainer_ready"),
    ("Trainer start-up to the first step", "trainer_ready", "first_step"),
    ("total: launch to first training step", "launched", "first_step"),
]


def run_once(train_args: list[str]) -> dict:
    launched = time.time()
    code = PROBE.replace("{root!r}", repr(str(REPO_ROOT)))
    out = subprocess.run([sys.executable, "-c", code, str(launched), *train_args],
                         capture_output=True, text=True, cwd=REPO_ROOT)  # fmt: skip
    lines = [line for line in out.stdout.splitlines() if line.startswith("MARKS ")]
    if not lines:
        raise RuntimeError(f"train.py did not reach its first step:\n{out.stderr[-2000:]}")
    marks = json.loads(lines[0][len("MARKS ") :])
    return {name: marks[end] - marks[start] for name, start, end in PHASES}


def baseline_imports() -> float:
    launched = time.time()
    subprocess.run([sys.executable, "-c", "import torch, transformers; transformers.Trainer"], check=True)
    return time.time() - launched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as output_dir:
        train_args = ["--data_dir", args.data_dir, "--output_dir", output_dir, "--report_to", "none"]
        runs = [run_once(train_args) for _ in range(args.repeats)]
    baseline = statistics.median(baseline_imports() for _ in range(args.repeats))
    medians = {name: statistics.median(run[name] for run in runs) for name, *_ in PHASES}
    rows = [["baseline: `python -c 'import torch, transformers; transformers.Trainer'`", f"{baseline:.2f}"]]
    rows += [[name, f"{seconds:.2f}"] for name, seconds in medians.items()]
    print(f"Machine: {describe(machine())}\n")
    print(markdown_table([f"train.py phase (median of {args.repeats})", "seconds"], rows))
    print(f"\nResults: {save('cold_start', {'baseline_import_s': baseline, 'phases_s': medians, 'runs': runs})}")


if __name__ == "__main__":
    main()
