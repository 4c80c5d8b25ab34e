"""Single-tweet latency while a 10,000-line file upload runs, with and without chunked bulk work.

    python bench/fairness.py --model outputs/model --data_dir ../shared/tweeteval/hate

For each BULK_CHUNK setting (0 = each upload in one piece, the behaviour before the scheduler;
64 = the default) it starts `python app.py`, measures single-tweet latency on an idle server, then
sends a 10,000-line upload and, while it runs, one single-tweet request after another; it reports
the median and 99th percentile of those latencies and how long the upload took. Both settings run
in the same invocation on the same machine, so compare them with each other.
Writes bench/results/fairness-<time>.json.
"""

import argparse
import statistics
import threading
import time
from pathlib import Path

import httpx
from common import describe, machine, markdown_table, save
from serve import start_server


def single_latencies(url: str, tweets: list[str], stop: threading.Event | None, limit: int) -> list[float]:
    """Seconds per single-tweet request, sent one after another until ``stop`` is set (or ``limit`` sent)."""
    latencies = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for i in range(limit):
            if stop is not None and stop.is_set():
                break
            started = time.perf_counter()
            client.post("/predict_labels_one_tweet", params={"tweet": tweets[i % len(tweets)]}).raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) >= 2 else values[0]


def measure(model: str, chunk: int, tweets: list[str]) -> dict:
    server, url, _ = start_server(model, 32, {"BULK_CHUNK": str(chunk)})
    try:
        idle = single_latencies(url, tweets, None, 50)
        upload = "\n".join(tweets[i % len(tweets)] for i in range(10_000)).encode()
        stop, busy = threading.Event(), []
        prober = threading.Thread(target=lambda: busy.extend(single_latencies(url, tweets, stop, 100_000)))
        started = time.perf_counter()
        prober.start()
        with httpx.Client(base_url=url, timeout=600) as client:
            client.post("/predict_labels_tweets_file", files={"file": ("t.txt", upload)}).raise_for_status()
        upload_s = time.perf_counter() - started
        stop.set()
        prober.join()
    finally:
        server.terminate()
        server.wait(30)
    return {"bulk_chunk": chunk, "idle_p50_ms": 1000 * statistics.median(idle), "idle_p99_ms": 1000 * p99(idle),
            "busy_requests": len(busy), "busy_p50_ms": 1000 * statistics.median(busy),
            "busy_p99_ms": 1000 * p99(busy), "busy_max_ms": 1000 * max(busy), "upload_s": upload_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="outputs/model")
    parser.add_argument("--data_dir", default="../shared/tweeteval/hate")
    parser.add_argument("--chunks", default="0,64", help="BULK_CHUNK settings to compare.")
    args = parser.parse_args()
    tweets = (Path(args.data_dir) / "test_text.txt").read_text(encoding="utf-8").splitlines()
    rows = [measure(args.model, int(chunk), tweets) for chunk in args.chunks.split(",")]
    info = machine()
    print(f"Machine: {describe(info)}")
    headers = ["BULK_CHUNK", "idle p50 ms", "idle p99 ms", "singles during upload", "p50 ms", "p99 ms", "max ms",
               "upload s"]  # fmt: skip
    print(markdown_table(headers, [[r["bulk_chunk"] or "0 (whole file)", f"{r['idle_p50_ms']:.1f}",
                                    f"{r['idle_p99_ms']:.1f}", r["busy_requests"], f"{r['busy_p50_ms']:.1f}",
                                    f"{r['busy_p99_ms']:.1f}", f"{r['busy_max_ms']:.1f}", f"{r['upload_s']:.1f}"]
                                   for r in rows]))  # fmt: skip
    print(f"Results written to {save('fairness', {'rows': rows})}")


if __name__ == "__main__":
    main()
