"""Check that two commits behave alike: a seeded short training run and ``evaluate.py --panel`` at each commit,
then the predictions files compared byte for byte and the panel scores compared exactly.

    python scripts/same_behaviour.py BEFORE AFTER [--data_dir ../shared/tweeteval/hate] [--sources_dir ...]

Each commit runs in its own git worktree (under --work), with this interpreter; nothing of the current checkout
is used, and a commit that ran already under --work is not run again. Exit status 0 when everything matches, 1
otherwise (the differing files are listed). On the 2-core AMD EPYC each commit takes about 10 minutes (training
predicts every source's splits, and the panel scores every source, disguised text and HateCheck).
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# A short run of the quick-start configuration: 30 steps, no checkpoints, the validation panel after training.
TRAIN = ["--config", "configs/train_quick.yaml", "--max_steps", "30", "--seed", "42", "--eval_strategy", "no",
         "--early_stopping_patience", "0",
         "--save_strategy", "no", "--load_best_model_at_end", "false", "--report_to", "none",
         "--panel_scope", "validation", "--disable_tqdm", "true"]  # fmt: skip
# What may differ between two runs of one model: clocks and the folders the runs were written to.
VOLATILE = {"wall_time_s", "train_runtime", "train_samples_per_second", "train_steps_per_second", "output_dir",
            "logging_dir", "model", "eval_runtime", "seconds"}  # fmt: skip


def run_commit(commit: str, work: Path, data_dir: str, sources_dir: str) -> Path:
    """Train and evaluate at ``commit``; the run folder."""
    tree = work / commit
    if not tree.exists():
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(tree), commit], check=True)
    out = tree / "outputs" / "same-behaviour"
    if (out / "eval" / "panel.json").is_file():  # this commit ran already (under --work): compare what it wrote
        return out
    data = ["--data_dir", str(Path(data_dir).resolve()), "--sources_dir", str(Path(sources_dir).resolve())]
    for script, args in (("train.py", [*TRAIN, *data, "--output_dir", str(out), "--overwrite_output_dir", "true"]),
                         ("evaluate.py", ["--model", str(out), *data, "--panel", "--backend", "fp32"])):  # fmt: skip
        print(f"{commit}: python {script} {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, script, *args], cwd=tree, check=True, stdout=subprocess.DEVNULL)
    return out


def compare(before: Path, after: Path) -> list[str]:
    """The files that differ: predictions byte for byte, JSON results ignoring clocks and folder names."""
    differing = []
    for path in sorted(before.rglob("*")):
        twin = after / path.relative_to(before)
        if path.name.startswith("predictions") and path.suffix in (".txt", ".csv"):
            if not twin.is_file() or twin.read_bytes() != path.read_bytes():
                differing.append(str(path.relative_to(before)))
        elif path.name in ("panel.json", "eval_results.json"):
            if not twin.is_file() or _stable(json.loads(path.read_text())) != _stable(json.loads(twin.read_text())):
                differing.append(str(path.relative_to(before)))
    return differing


def _stable(value):
    if isinstance(value, dict):
        return {key: _stable(item) for key, item in value.items() if key not in VOLATILE}
    return [_stable(item) for item in value] if isinstance(value, list) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--sources_dir", default="../shared/hate_sources")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "same-behaviour")
    args = parser.parse_args(argv)
    runs = [run_commit(commit, args.work, args.data_dir, args.sources_dir) for commit in (args.before, args.after)]
    compared = [p for p in runs[0].rglob("*") if p.name.startswith("predictions") or p.suffix == ".json"]
    differing = compare(*runs)
    print(f"{len(compared)} files compared, {len(differing)} differ" + "".join(f"\n  {d}" for d in differing))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
