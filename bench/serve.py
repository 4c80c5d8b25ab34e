"""Serving throughput and latency of app.py for single-tweet requests, per inference engine.

    python bench/serve.py --model outputs/model --data_dir ../shared/tweeteval/hate --backends bf16,onnx --profile

Starts `python app.py` on a loopback port for each engine (INFERENCE_BACKEND), drives it with an async
aiohttp client at each concurrency level (closed loop: every client sends its next tweet when the
previous answer arrives), and reports requests/s, median and 99th-percentile latency and errors.
Each engine's offline Classifier rate, one batch of 32 and one tweet alone are measured in the same
run as the references of the goals (share of offline, p99 in batches of 32, p50 in single tweets).
--profile samples the server with py-spy under one client and prints the share of its busy time per
part of a request (model, tokenizer, scheduler, HTTP server).
The client shares the machine's cores with the server, as a loopback test must; its own CPU time
per request is reported, so its share of the machine is visible.
Writes bench/results/serve-<time>.json.
"""

import argparse
import asyncio
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

# py-spy's raw samples of the --profile run.
RESULTS_TMP = Path(tempfile.gettempdir()) / "serve-profile.txt"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, max_batch: int, extra_env: dict) -> tuple[subprocess.Popen, str, float]:
    """Start app.py; returns the process, its URL and the seconds from launch to the first answer."""
    launched = time.perf_counter()
    port = free_port()
    env = {**os.environ, "MODEL_ID": model, "PORT": str(port), "HOST": "127.0.0.1", "MAX_BATCH": str(max_batch),
           **extra_env}  # fmt: skip
    server = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("ready"):
                httpx.post(f"{url}/predict_labels_one_tweet", params={"tweet": "first request"}, timeout=30)
                return server, url, time.perf_counter() - launched
        except httpx.TransportError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError("app.py did not become ready")


async def load(url: str, tweets: list[str], concurrency: int, seconds: float) -> dict:
    latencies, errors = [], 0
    stop = time.perf_counter() + seconds

    async def client(offset: int, http: aiohttp.ClientSession):
        nonlocal errors
        i = offset
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                params = {"tweet": tweets[i % len(tweets)]}
                async with http.post(f"{url}/predict_labels_one_tweet", params=params) as response:
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
        "requests": len(latencies),
        "errors": errors,
        "client_cpu_ms_per_request": round(1000 * client_cpu / max(len(latencies), 1), 2),
    }


def engine_reference(model: str, backend: str, tweets: list[str]) -> dict:
    """What the goals compare serving with: the engine's offline rate, one batch of 32, one tweet alone."""
    from hatespeech.inference.classifier import Classifier

    classifier = Classifier(model, backend=backend)
    offline_s, _ = median_seconds(lambda: classifier.predict_proba(tweets), 3)
    batch_s, _ = median_seconds(lambda: classifier.predict_proba(tweets[:32]), 15)
    singles = [median_seconds(lambda t=t: classifier.predict_proba([t]), 3)[0] for t in tweets[:50]]
    return {
        "engine": classifier.backend,
        "offline_tweets_per_s": round(len(tweets) / offline_s, 1),
        "batch_of_32_ms": round(1000 * batch_s, 1),
        "single_tweet_ms": round(1000 * statistics.median(singles), 2),
    }


def profile_server(pid: int, seconds: float, path: Path) -> dict:
    """py-spy samples of the server while it answers one client: the share of samples per part of a request."""
    # The venv's py-spy (requirements-dev.txt) when the venv is not on PATH, as with `.venv/bin/python bench/...`.
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    subprocess.run([py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "250",
                    "--format", "raw", "--output", str(path), "--threads", "--nonblocking"],
                   check=True, capture_output=True)  # fmt: skip
    totals: dict[str, int] = {}
    for line in path.read_text().splitlines():
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
    ("telemetry", "hatespeech/serving/service.py"),
    ("scheduler", "hatespeech/serving/batching.py"),
    ("input checks", "hatespeech/tweets.py"),
    ("REST route", "hatespeech/serving/api.py"),
    ("HTTP server + framework", "uvicorn"),
    ("HTTP server + framework", "starlette"),
    ("HTTP server + framework", "fastapi"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--seconds", type=float, default=15, help="Load duration per row.")
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--backends", default="auto", help="INFERENCE_BACKEND of each server, e.g. bf16,onnx.")
    parser.add_argument("--max_batch", type=int, default=32, help="MAX_BATCH of the server (1: no batching).")
    parser.add_argument("--profile", action="store_true", help="py-spy the server under one client (first engine).")
    parser.add_argument("--server_env", nargs="*", default=[], metavar="KEY=VALUE", help="Extra app.py environment.")
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)

    from hatespeech.data.loading import DataArguments, load_split

    tweets = load_split(DataArguments(data_dir=args.data_dir), "test")["text"]
    rows, results, engines, breakdown = [], [], [], None
    for backend in args.backends.split(","):
        reference = engine_reference(args.model, backend, tweets)
        server, url, cold_start = start_server(args.model, args.max_batch,
                                               {**server_env, "INFERENCE_BACKEND": backend})  # fmt: skip
        engines.append({**reference, "cold_start_s": round(cold_start, 2)})
        try:
            if args.profile and breakdown is None:
                with ThreadPoolExecutor(1) as pool:  # py-spy samples while one client drives the server
                    sampled = pool.submit(profile_server, server.pid, args.seconds - 2, RESULTS_TMP)
                    asyncio.run(load(url, tweets, 1, args.seconds))
                    breakdown = sampled.result()
            for concurrency in map(int, args.concurrency.split(",")):
                stats = asyncio.run(load(url, tweets, concurrency, args.seconds))
                stats.update(engine=reference["engine"], max_batch=args.max_batch, concurrency=concurrency,
                             share_of_offline=round(stats["requests_per_s"] / reference["offline_tweets_per_s"], 3),
                             p99_in_batches_of_32=round(stats["p99_ms"] / reference["batch_of_32_ms"], 2),
                             p50_in_single_tweets=round(stats["p50_ms"] / reference["single_tweet_ms"], 2))  # fmt: skip
                results.append(stats)
                rows.append([reference["engine"], concurrency, stats["requests_per_s"],
                             f"{100 * stats['share_of_offline']:.0f}%", stats["p50_ms"], stats["p99_ms"],
                             stats["p99_in_batches_of_32"], stats["p50_in_single_tweets"], stats["errors"],
                             stats["client_cpu_ms_per_request"]])  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"Machine: {describe(machine())}; MAX_BATCH {args.max_batch}; environment {server_env or 'defaults'}\n")
    print(markdown_table(["engine", "offline tweets/s", "batch of 32 ms", "one tweet ms", "cold start s"],
                         [[e["engine"], e["offline_tweets_per_s"], e["batch_of_32_ms"], e["single_tweet_ms"],
                           e["cold_start_s"]] for e in engines]) + "\n")  # fmt: skip
    header = ["engine", "clients", "requests/s", "of offline", "p50 ms", "p99 ms", "p99 / batch of 32",
              "p50 / one tweet", "errors", "client CPU ms/request"]  # fmt: skip
    print(markdown_table(header, rows))
    if breakdown:
        print("\nServer time per part of a request, one client (share of the server's busy samples):")
        print(markdown_table(["part", "share"], [[part, f"{100 * share:.1f}%"] for part, share in breakdown.items()]))
    payload = {"model": args.model, "engines": engines, "profile_one_client": breakdown, "server_env": server_env}
    print(f"\nResults: {save('serve', {**payload, 'rows': results})}")


if __name__ == "__main__":
    main()
