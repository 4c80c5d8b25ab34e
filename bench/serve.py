"""Serving throughput and latency of app.py for single-tweet requests, against the engine's own bound.

    python bench/serve.py --model outputs/model --data_dir ../shared/tweeteval/hate --backends auto \
        --refs before=<commit> --profile docs/profiles --profile_servers before,this-tree

Starts `python app.py` on a loopback port for each engine (INFERENCE_BACKEND) and each server version
(--refs: a commit served from a temporary git worktree, beside this working tree, so the baseline is
measured in the same run), drives it with an async aiohttp client at each concurrency level (closed
loop: every client sends its next tweet when the previous answer arrives), and reports requests/s,
median and 99th-percentile latency and errors.

The yardstick is the engine's rate at a batch of 32 tweets (`Classifier` offline, same run): the
biggest batch 32 single-tweet clients can fill. Each row gives its share of that rate, p50 and p99 in
batch-of-32 times, and p50 in one-tweet-alone times. The offline rate (large batches) is shown beside.
Cold start is launch to first answer (median of --cold_starts launches), split into the server's own
phases (its `hatespeech_startup_seconds` metric: imports and app, model load, warm-up) and the rest
(interpreter start, the HTTP server, the first request).
Per request at the highest concurrency, the server's metrics split the client's latency into: outside
the app (client, loopback, uvicorn), the app's own code (routing, checks, JSON), the wait in the
scheduler's queue, and the model call (tokenise, forward, results).
--profile DIR samples the servers named in --profile_servers with py-spy under the highest concurrency:
a flame graph (SVG) each in DIR and the share of the server's busy samples per part of a request.
The client shares the machine's cores with the server, as a loopback test must; its own CPU time
per request is reported, so its share of the machine is visible.
Writes bench/results/serve-<time>.json.
"""

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import httpx
from common import REPO_ROOT, describe, machine, markdown_table, median_seconds, save
from prometheus_client.parser import text_string_to_metric_families

ROUTE = "/predict_labels_one_tweet"
THIS_TREE = "this-tree"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(root: Path, model: str, env: dict) -> tuple[subprocess.Popen, str, dict]:
    """Start ``root``/app.py; returns the process, its URL and its cold start: launch to ready, to first answer."""
    launched = time.perf_counter()
    port = free_port()
    env = {**os.environ, "MODEL_ID": model, "PORT": str(port), "HOST": "127.0.0.1", **env}
    server = subprocess.Popen([sys.executable, str(root / "app.py")], env=env, cwd=root,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("ready"):
                ready = time.perf_counter() - launched
                httpx.post(f"{url}{ROUTE}", params={"tweet": "first request"}, timeout=30).raise_for_status()
                return server, url, {"ready_s": ready, "first_answer_s": time.perf_counter() - launched}
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"{root / 'app.py'} did not become ready")


def metrics(url: str) -> dict[str, float]:
    """The server's Prometheus samples by name and labels, e.g. ``hatespeech_startup_seconds{phase=app}``."""
    samples = {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text):
        for sample in family.samples:
            labels = ",".join(f"{key}={value}" for key, value in sorted(sample.labels.items()) if key != "le")
            if "le" not in sample.labels:
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def cold_start(root: Path, model: str, env: dict, launches: int) -> tuple[subprocess.Popen, str, dict]:
    """Median cold start of ``launches`` starts, split into phases; the last server is left running."""
    runs = []
    for launch in range(launches):
        server, url, times = start_server(root, model, env)
        startup = metrics(url)
        for phase in ("app", "model_load", "warm_up"):
            times[phase] = startup.get(f"hatespeech_startup_seconds{{phase={phase}}}")
        runs.append(times)
        if launch < launches - 1:
            stop(server)
    split = {key: round(statistics.median(run[key] for run in runs), 2) if runs[0][key] is not None else None
             for key in runs[0]}  # fmt: skip
    if split["app"] is not None:
        split["rest"] = round(split["first_answer_s"] - split["app"] - split["model_load"] - split["warm_up"], 2)
    return server, url, split


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)


async def load(url: str, tweets: list[str], concurrency: int, seconds: float) -> dict:
    latencies, errors = [], 0
    stop_at = time.perf_counter() + seconds

    async def client(offset: int, http: aiohttp.ClientSession):
        nonlocal errors
        i = offset
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                async with http.post(f"{url}{ROUTE}", params={"tweet": tweets[i % len(tweets)]}) as response:
                    await response.read()
                    ok = response.status == 200
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - started) if ok else None
            errors += not ok
            i += concurrency

    began, client_cpu = time.perf_counter(), time.process_time()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(client(k, http) for k in range(concurrency)))
    elapsed, client_cpu = time.perf_counter() - began, time.process_time() - client_cpu
    latencies.sort()
    return {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
        "mean_ms": round(1000 * statistics.fmean(latencies), 2) if latencies else None,
        "requests": len(latencies),
        "errors": errors,
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(len(latencies), 1), 2),
    }


def breakdown(before: dict, after: dict, client_mean_ms: float) -> dict | None:
    """Mean milliseconds per request in each part, from the server's metrics over one load row (None: a server
    version without them)."""

    def delta(name):
        return after.get(name, 0.0) - before.get(name, 0.0)

    requests = delta(f"hatespeech_request_seconds_count{{path={ROUTE}}}")
    if "hatespeech_queue_seconds_sum" not in after or not requests:
        return None
    in_app = 1000 * delta(f"hatespeech_request_seconds_sum{{path={ROUTE}}}") / requests
    queue = 1000 * delta("hatespeech_queue_seconds_sum") / delta("hatespeech_queue_seconds_count")
    batch = 1000 * delta("hatespeech_batch_seconds_sum") / delta("hatespeech_batch_seconds_count")
    stages = {stage: delta(f"hatespeech_batch_stage_seconds_sum{{stage={stage}}}")
              for stage in ("tokenize", "forward", "results")}  # fmt: skip
    calls = delta("hatespeech_batch_stage_seconds_count{stage=forward}")
    parts = {
        "outside the app (client, loopback, uvicorn)": client_mean_ms - in_app,
        "app code (routing, checks, JSON, handoffs)": in_app - queue - batch,
        "queue (waiting for a batch to start)": queue,
        **{f"model call: {stage}": 1000 * seconds / calls for stage, seconds in stages.items()},
        "model call: thread handoff": batch - 1000 * sum(stages.values()) / calls,
    }
    parts = {part: round(ms, 2) for part, ms in parts.items()}
    parts["full GC pauses in the row"] = delta("hatespeech_gc_pause_seconds_count{generation=2}")
    parts["full GC ms in the row"] = round(1000 * delta("hatespeech_gc_pause_seconds_sum{generation=2}"), 1)
    parts["tweets per model call"] = round(delta("hatespeech_batch_size_sum") / delta("hatespeech_batch_size_count"), 1)
    return parts


def engine_reference(model: str, backend: str, tweets: list[str]) -> dict:
    """The yardsticks: the engine's offline rate, one batch of 32 (its rate: the bound), one tweet alone."""
    from hatespeech.inference.classifier import Classifier

    classifier = Classifier(model, backend=backend)
    offline_s, _ = median_seconds(lambda: classifier.predict_proba(tweets), 3)
    batch_s, _ = median_seconds(lambda: classifier.predict_proba(tweets[:32]), 15)
    singles = [median_seconds(lambda t=t: classifier.predict_proba([t]), 3)[0] for t in tweets[:50]]
    return {
        "engine": classifier.backend,
        "offline_tweets_per_s": round(len(tweets) / offline_s, 1),
        "batch_of_32_ms": round(1000 * batch_s, 1),
        "batch_of_32_tweets_per_s": round(32 / batch_s, 1),
        "single_tweet_ms": round(1000 * statistics.median(singles), 2),
    }


def profile_server(pid: int, seconds: float, svg: Path) -> dict:
    """py-spy on the server: a flame graph of the second half of ``seconds``, and from the first half the share of
    busy samples per part of a request."""
    # The venv's py-spy (requirements-dev.txt) when the venv is not on PATH, as with `.venv/bin/python bench/...`.
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    record = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds / 2)), "--rate", "250",
              "--threads", "--nonblocking"]  # fmt: skip
    raw = Path(tempfile.gettempdir()) / "serve-profile.txt"
    subprocess.run([*record, "--format", "raw", "--output", str(raw)], check=True, capture_output=True)
    svg.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([*record, "--format", "flamegraph", "--output", str(svg)], check=True, capture_output=True)
    totals: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        part = next((name for name, marker in PROFILE_PARTS if marker in stack), "other")
        totals[part] = totals.get(part, 0) + int(count)
    busy = sum(totals.values())
    return {part: round(count / busy, 3) for part, count in sorted(totals.items(), key=lambda kv: -kv[1])}


# Where a sampled stack is (the first marker found, most specific first). py-spy drops idle samples (a thread
# waiting in select or on a lock), so the shares are of the time the server's threads were busy.
PROFILE_PARTS = (
    ("model forward", "hatespeech/inference/engines.py"),
    ("tokenize + normalise", "_encode ("),
    ("pad", "pad ("),
    ("results", "hatespeech/inference/classifier.py"),
    ("telemetry", "prometheus_client"),
    ("telemetry", "hatespeech/serving/service.py"),
    ("scheduler", "hatespeech/serving/batching.py"),
    ("input checks", "hatespeech/tweets.py"),
    ("REST route", "hatespeech/serving/api.py"),
    ("HTTP server + framework", "uvicorn"),
    ("HTTP server + framework", "starlette"),
    ("HTTP server + framework", "fastapi"),
    ("HTTP server + framework", "pydantic"),
    ("event loop", "asyncio"),
    ("event loop", "uvloop"),
)


def load_rows(url: str, tweets: list[str], levels: list[int], seconds: float, reference: dict):
    """One load row per concurrency level against the engine's yardsticks, and the breakdown at the highest."""
    rows, parts = [], None
    for concurrency in levels:
        before = metrics(url)
        stats = asyncio.run(load(url, tweets, concurrency, seconds))
        if concurrency == levels[-1]:
            parts = breakdown(before, metrics(url), stats["mean_ms"])
        batch_ms = reference["batch_of_32_ms"]
        rows.append({**stats, "engine": reference["engine"], "concurrency": concurrency,
                     "share_of_batch_32": round(stats["requests_per_s"] / reference["batch_of_32_tweets_per_s"], 3),
                     "p50_in_batch_32": round(stats["p50_ms"] / batch_ms, 2),
                     "p99_in_batch_32": round(stats["p99_ms"] / batch_ms, 2),
                     "p50_in_single_tweets": round(stats["p50_ms"] / reference["single_tweet_ms"], 2)})  # fmt: skip
    return rows, parts


def median_rows(results: list[dict]) -> list[list]:
    """Per server, engine and concurrency: the median over repeats of each ratio, and the errors summed."""
    groups: dict[tuple, list[dict]] = {}
    for row in results:
        groups.setdefault((row["server"], row["engine"], row["concurrency"]), []).append(row)
    ratios = ("share_of_batch_32", "p50_in_batch_32", "p99_in_batch_32", "p50_in_single_tweets")
    return [[*key, *(round(statistics.median(r[ratio] for r in rows), 2) for ratio in ratios),
             sum(r["errors"] for r in rows)] for key, rows in groups.items()]  # fmt: skip


@contextlib.contextmanager
def server_roots(refs: list[str]):
    """``name -> folder`` of each server version: a temporary worktree per ``name=ref``, then this working tree."""
    roots, made = {}, []
    try:
        for item in refs:
            name, _, ref = item.partition("=")
            folder = Path(tempfile.mkdtemp(prefix=f"serve-{name}-"))
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--force", str(folder),
                            ref or name], check=True, capture_output=True)  # fmt: skip
            made.append(folder)
            roots[name] = folder
        yield roots | {THIS_TREE: REPO_ROOT}
    finally:
        for folder in made:
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(folder)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--seconds", type=float, default=15, help="Load duration per row.")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--backends", default="auto", help="INFERENCE_BACKEND of each server, e.g. bf16,openvino.")
    parser.add_argument("--refs", default="", help="Server versions besides this tree: NAME=COMMIT,... (baselines).")
    parser.add_argument("--cold_starts", type=int, default=3, help="Launches per server for the cold start median.")
    parser.add_argument("--repeats", type=int, default=1, help="Rounds over all servers, taking turns (medians).")
    parser.add_argument("--profile", type=Path, help="py-spy at the highest concurrency: flame graphs in this folder.")
    parser.add_argument("--profile_servers", default=THIS_TREE, help=f"The servers --profile samples ({THIS_TREE} "
                        "and --refs names).")  # fmt: skip
    parser.add_argument("--server_env", nargs="*", default=[], metavar="KEY=VALUE", help="Extra app.py environment.")
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)
    levels = sorted(map(int, args.concurrency.split(",")))

    from hatespeech.data.loading import DataArguments, load_split

    tweets = load_split(DataArguments(data_dir=args.data_dir), "test")["text"]
    model = str(Path(args.model).absolute())
    references = {backend: engine_reference(model, backend, tweets) for backend in args.backends.split(",")}
    results, starts, parts, shares = [], [], {}, {}
    profiled = set(args.profile_servers.split(",")) if args.profile else set()
    with server_roots([ref for ref in args.refs.split(",") if ref]) as roots:
        for repeat, (backend, reference) in itertools.product(range(args.repeats), references.items()):
            for name, root in roots.items():  # the versions take turns, so drift in the machine touches all alike
                key = f"{name}, {reference['engine']}"
                server, url, split = cold_start(root, model, {**server_env, "INFERENCE_BACKEND": backend},
                                                args.cold_starts)  # fmt: skip
                starts.append({"server": name, "engine": reference["engine"], "repeat": repeat, **split})
                try:
                    if name in profiled and repeat == 0:
                        svg = args.profile / f"serve-flame-{name}-{reference['engine']}-{levels[-1]}.svg"
                        with ThreadPoolExecutor(1) as pool:  # py-spy samples while the clients drive the server
                            sampled = pool.submit(profile_server, server.pid, args.seconds - 2, svg)
                            asyncio.run(load(url, tweets, levels[-1], args.seconds))
                            shares[key] = sampled.result()
                    measured, split = load_rows(url, tweets, levels, args.seconds, reference)
                    parts.setdefault(key, split)
                    results += [{**stats, "server": name, "repeat": repeat} for stats in measured]
                finally:
                    stop(server)
    print(f"Machine: {describe(machine())}; environment {server_env or 'defaults'}\n")
    print(markdown_table(["engine", "offline tweets/s", "batch of 32 ms", "batch-32 rate (tweets/s)", "one tweet ms"],
                         [[r["engine"], r["offline_tweets_per_s"], r["batch_of_32_ms"], r["batch_of_32_tweets_per_s"],
                           r["single_tweet_ms"]] for r in references.values()]) + "\n")  # fmt: skip
    columns = {"server": "server", "engine": "engine", "repeat": "repeat", "clients": "concurrency",
               "requests/s": "requests_per_s", "of batch-32 rate": "share_of_batch_32", "p50 ms": "p50_ms",
               "p99 ms": "p99_ms", "p50 / batch 32": "p50_in_batch_32", "p99 / batch 32": "p99_in_batch_32",
               "p50 / one tweet": "p50_in_single_tweets", "errors": "errors",
               "client CPU ms/request": "client_cpu_ms_per_request"}  # fmt: skip
    print(markdown_table(list(columns), [[row[key] for key in columns.values()] for row in results]) + "\n")
    if args.repeats > 1:
        print(f"Medians of the {args.repeats} repeats:")
        print(markdown_table(["server", "engine", "clients", "of batch-32 rate", "p50 / batch 32", "p99 / batch 32",
                              "p50 / one tweet", "errors"], median_rows(results)) + "\n")  # fmt: skip
    print(f"Cold start, median of {args.cold_starts} launches per repeat (s):")
    phases = {"server": "server", "engine": "engine", "repeat": "repeat", "launch to ready": "ready_s",
              "launch to first answer": "first_answer_s", "imports and app": "app", "model load": "model_load",
              "warm-up": "warm_up", "rest (interpreter, HTTP server, first request)": "rest"}  # fmt: skip
    print(markdown_table(list(phases), [[start.get(key) for key in phases.values()] for start in starts]) + "\n")
    known = {server: split for server, split in parts.items() if split}
    if known:
        print(f"Mean ms per request at {levels[-1]} clients, from the server's metrics:")
        names = list(next(iter(known.values())))
        print(markdown_table(["part", *known], [[n, *(split[n] for split in known.values())] for n in names]) + "\n")
    if shares:
        print(f"Server time per part of a request at {levels[-1]} clients, share of the server's busy samples "
              f"(flame graphs in {args.profile}):")  # fmt: skip
        names = sorted({part for split in shares.values() for part in split}, key=lambda p: -max(
            split.get(p, 0) for split in shares.values()))  # fmt: skip
        print(markdown_table(["part", *shares], [[n, *(f"{100 * split.get(n, 0):.1f}%" for split in shares.values())]
                                                 for n in names]))  # fmt: skip
    payload = {"model": args.model, "refs": args.refs, "engines": list(references.values()), "cold_starts": starts,
               "breakdown": parts, "profile": shares, "flame_graphs": str(args.profile or ""),
               "server_env": server_env}  # fmt: skip
    print(f"\nResults: {save('serve', {**payload, 'rows': results})}")


if __name__ == "__main__":
    main()
