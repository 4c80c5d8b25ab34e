"""Serving throughput and latency of app.py for single-tweet requests, with and without micro-batching.

    python bench/serve.py --model outputs/model --data_dir ../shared/tweeteval/hate --seconds 15

Starts `python app.py` on a loopback port for each MAX_BATCH setting, drives it with an async
aiohttp client at each concurrency level (closed loop: every client sends its next tweet when the
previous answer arrives), and reports requests/s, median and 99th-percentile latency and errors.
The offline Classifier rate on the same tweets is measured in the same run as the reference.
The client shares the machine's cores with the server, as a loopback test must; its own CPU time
per request is reported, so its share of the machine is visible.
Writes bench/results/serve-<time>.json.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time

import aiohttp
import httpx
from common import REPO_ROOT, describe, machine, markdown_table, median_seconds, save


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--seconds", type=float, default=15, help="Load duration per row.")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--max_batches", default="1,32", help="MAX_BATCH settings of the server (1: no batching).")
    parser.add_argument("--server_env", nargs="*", default=[], metavar="KEY=VALUE", help="Extra app.py environment.")
    args = parser.parse_args()
    server_env = dict(item.split("=", 1) for item in args.server_env)

    from hatespeech.data import DataArguments, load_split
    from hatespeech.inference import Classifier

    tweets = load_split(DataArguments(data_dir=args.data_dir), "test")["text"]
    classifier = Classifier(args.model)
    offline_s, _ = median_seconds(lambda: classifier.predict_proba(tweets), 3)
    offline = len(tweets) / offline_s

    rows, results, cold_starts = [], [], []
    for max_batch in map(int, args.max_batches.split(",")):
        server, url, cold_start = start_server(args.model, max_batch, server_env)
        cold_starts.append(round(cold_start, 1))
        try:
            for concurrency in map(int, args.concurrency.split(",")):
                stats = asyncio.run(load(url, tweets, concurrency, args.seconds))
                stats.update(max_batch=max_batch, concurrency=concurrency,
                             share_of_offline=round(stats["requests_per_s"] / offline, 3))  # fmt: skip
                results.append(stats)
                rows.append([(f"micro-batching ({max_batch})" if max_batch > 1 else "no batching"), concurrency,
                             stats["requests_per_s"], f"{100 * stats['share_of_offline']:.0f}%", stats["p50_ms"],
                             stats["p99_ms"], stats["errors"], stats["client_cpu_ms_per_request"]])  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"Machine: {describe(machine())}\nOffline Classifier on the same tweets: {offline:.0f} tweets/s")
    print(f"Cold start, app.py launch to first answered request: {cold_starts} s")
    print(f"Server environment: {server_env or 'defaults'}\n")
    header = ["server", "clients", "requests/s", "of offline", "p50 ms", "p99 ms", "errors", "client CPU ms/request"]
    print(markdown_table(header, rows))
    payload = {"model": args.model, "offline_tweets_per_s": round(offline, 1), "cold_start_s": cold_starts,
               "server_env": server_env}  # fmt: skip
    print(f"\nResults: {save('serve', {**payload, 'rows': results})}")


if __name__ == "__main__":
    main()
