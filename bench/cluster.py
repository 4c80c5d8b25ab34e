"""Batch classification throughput: the one-process predict.py against predict.py --cluster on a Ray cluster of one
node and of two nodes on this machine (a loopback-only network namespace, as root), same engine, same input.

    sudo .venv/bin/python bench/cluster.py --rows 100000

Each path runs as a user runs it, end to end (process start, model load, reading, classifying, writing), on the
same file: TweetEval hate's tweets repeated to --rows lines. The model is the embedded MiniLM with a fresh
classification head (the speed does not depend on the head's weights), or --model. Every path uses the engine
that `auto` picks on this machine, and all of them together have the machine's cores: the one-process path uses
them all, the one-node cluster one actor with all of them, the two-node cluster one actor of one core per node.
The driver's share (how fast one driver writes predictions, the ceiling of any cluster) is timed on its own.
Prints a markdown table and writes bench/results/cluster-<time>.json.
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO_ROOT, describe, machine, markdown_table, save

sys.path.insert(0, str(REPO_ROOT / "tests"))
from helpers.ray_cluster import available, run_on_cluster  # noqa: E402

# predict.py's main, timed from inside the process that runs it (the cluster's driver, or the one process).
TIMED = (
    "import sys, time; started = time.perf_counter(); sys.path.insert(0, {root!r}); import predict; "
    "status = predict.main(sys.argv[1:]); print(f'WALL {{time.perf_counter() - started:.3f}}'); sys.exit(status)"
)


def corpus(data_dir: Path, rows: int, path: Path) -> Path:
    """TweetEval hate's tweets, repeated to ``rows`` lines."""
    tweets = [line for split in ("train", "val", "test") for line in (data_dir / f"{split}_text.txt").read_text(
        encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
    with path.open("w", encoding="utf-8") as handle:
        for index in range(rows):
            handle.write(tweets[index % len(tweets)] + "\n")
    return path


def base_model(folder: Path) -> Path:
    """The embedded MiniLM with a fresh 2-way head, saved as train.py saves a model (tokenizer with the normaliser)."""
    from hatespeech.modeling import EMBEDDED_MODEL, ModelArguments, get_model, get_tokenizer
    from hatespeech.text import with_tweet_normalizer

    arguments = ModelArguments(model_name_or_path=EMBEDDED_MODEL)
    get_model(arguments).save_pretrained(folder)
    with_tweet_normalizer(get_tokenizer(arguments), max_length=128).save_pretrained(folder)
    return folder


def wall_time(result: subprocess.CompletedProcess, label: str) -> float:
    if result.returncode != 0:
        raise SystemExit(f"{label} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return float(next(line for line in result.stdout.splitlines() if line.startswith("WALL ")).split()[1])


def same_labels(first: Path, second: Path) -> float:
    """The share of rows with the same label in two prediction files."""
    with first.open(encoding="utf-8") as a, second.open(encoding="utf-8") as b:
        pairs = [(x["label"], y["label"]) for x, y in zip(csv.DictReader(a), csv.DictReader(b), strict=True)]
    return sum(x == y for x, y in pairs) / len(pairs)


def driver_rate(rows: int, path: Path) -> float:
    """Rows per second that one driver writes to a CSV output (the ceiling of a cluster whose driver writes)."""
    from hatespeech.inference.cluster import write_outputs

    row = {"file": "in.txt", "line": 0, "text": "a tweet of ordinary length about nothing in particular", "error": "",
           "label": "not-hate", "score": 0.9, "p_not_hate": 0.9, "p_hate": 0.1}  # fmt: skip
    started = time.perf_counter()
    write_outputs(({**row, "line": i + 1} for i in range(rows)), {"in.txt": path}, "csv")
    return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--data_dir", type=Path, default=REPO_ROOT.parent / "shared" / "tweeteval" / "hate")
    parser.add_argument("--model", help="A model folder (default: the embedded MiniLM with a fresh head).")
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    why_not = available()
    if why_not:
        raise SystemExit(f"cannot start a loopback cluster here: {why_not}")
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as work:
        work = Path(work)
        source = corpus(args.data_dir, args.rows, work / "tweets.txt")
        model = args.model or str(base_model(work / "model"))
        predict = ["--model", model, "--backend", args.backend, "--input", str(source)]
        timed = [sys.executable, "-c", TIMED.format(root=str(REPO_ROOT))]
        results = []
        single = subprocess.run([*timed, *predict, "--output", str(work / "single.csv")], capture_output=True,
                                text=True)  # fmt: skip
        results.append(("one process (predict.py)", 1, wall_time(single, "one process"), work / "single.csv"))
        for nodes, actors, threads in (((cores,), 1, cores), ((1,) * cores, cores, 1)):
            out = work / f"ray-{len(nodes)}.csv"
            command = [*timed, *predict, "--output", str(out), "--cluster", "auto", "--actors", str(actors),
                       "--num_threads", str(threads)]  # fmt: skip
            result = run_on_cluster(command, work, timeout=3600, nodes=nodes)
            label = f"Ray, {len(nodes)} node{'s' * (len(nodes) > 1)} ({actors} actor{'s' * (actors > 1)})"
            results.append((label, len(nodes), wall_time(result, label), out))
        write_rate = driver_rate(args.rows, work / "driver.csv")
        baseline = args.rows / results[0][2]
        rows = [[label, f"{seconds:.1f}", f"{args.rows / seconds:.0f}", f"{args.rows / seconds / baseline:.2f}",
                 f"{same_labels(results[0][3], out):.4f}"] for label, _, seconds, out in results]  # fmt: skip
    info = machine()
    print(f"{args.rows} tweets, engine {args.backend}, {describe(info)}")
    print(markdown_table(["path", "wall s", "rows/s", "x one process", "labels = one process"], rows))
    per_core = args.rows / results[-1][2] / cores  # the two-node run: one actor of one core per node
    print(
        f"\nDriver writing predictions alone: {write_rate:.0f} rows/s. Per core in the two-node run: "
        f"{per_core:.0f} rows/s. Estimate for N machines of C such cores, one actor per core (not measured): "
        f"min(N x C x {per_core:.0f}, {write_rate:.0f}) rows/s; the driver writes every row."
    )
    path = save("cluster", {"rows": args.rows, "backend": args.backend, "results": [
        {"path": label, "nodes": nodes, "wall_s": seconds, "rows_per_s": args.rows / seconds}
        for label, nodes, seconds, _ in results], "driver_write_rows_per_s": write_rate,
        "per_core_rows_per_s": per_core})  # fmt: skip
    print(f"\nSaved {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
