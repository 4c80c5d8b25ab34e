"""Server memory under mixed traffic, with and without handing freed memory back (malloc_trim), in one run.

    python bench/memory.py --model outputs/model --rounds 3

Starts app.py twice (MALLOC_TRIM=0, then the default), sends --rounds rounds of 200 requests (a third
single tweets, a third JSON batches of 256, a third 500-line uploads; seeded random tweets) and reads
the server's resident memory (VmRSS) when warm, after each round and 5 s later. Prints a markdown
table and writes bench/results/memory-<time>.json.
"""

import argparse
import os
import random
import subprocess
import sys
import time

import httpx
from common import REPO_ROOT, describe, machine, markdown_table, save

WORDS = "go back invaders you are welcome here immigrants women people love hate the a of".split()


def rss_mb(pid: int) -> float:
    status = open(f"/proc/{pid}/status").read()  # noqa: SIM115
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def measure(model: str, rounds: int, trim: bool, port: int) -> list[float]:
    env = {**os.environ, "MODEL_ID": model, "PORT": str(port), "HOST": "127.0.0.1", "MALLOC_TRIM": "1" if trim else "0"}
    server = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    url, rng = f"http://127.0.0.1:{port}", random.Random(0)

    def tweet() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))

    try:
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).json().get("ready"):
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        httpx.post(url + "/v1/classify", json={"texts": [tweet() for _ in range(8)]}, timeout=60)
        readings = [rss_mb(server.pid)]
        for _ in range(rounds):
            for i in range(200):
                if i % 3 == 0:
                    httpx.post(url + "/predict_labels_one_tweet", params={"tweet": tweet()}, timeout=60)
                elif i % 3 == 1:
                    httpx.post(url + "/v1/classify", json={"texts": [tweet() for _ in range(256)]}, timeout=120)
                else:
                    lines = "".join(tweet() + "\n" for _ in range(500)).encode()
                    httpx.post(url + "/predict_labels_tweets_file", files={"file": ("t.txt", lines)}, timeout=120)
            readings.append(rss_mb(server.pid))
            time.sleep(5)
            readings.append(rss_mb(server.pid))
        return readings
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="outputs/model", help="Local model folder or Hub id.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=7931)
    args = parser.parse_args()
    rows, payload = [], {}
    for trim in (False, True):
        readings = measure(args.model, args.rounds, trim, args.port)
        name = "malloc_trim after bulk work (default)" if trim else "without (MALLOC_TRIM=0)"
        payload[name] = readings
        rows.append([name, f"{readings[0]:.0f}"] + [f"{readings[i]:.0f} / {readings[i + 1]:.0f}"
                                                     for i in range(1, len(readings), 2)])  # fmt: skip
    headers = ["server", "warm MB"] + [f"round {r + 1}: after / 5 s later (MB)" for r in range(args.rounds)]
    print(f"Machine: {describe(machine())}; model {args.model}; 200 mixed requests a round")
    print(markdown_table(headers, rows))
    print(f"Saved {save('memory', {'model': args.model, 'rounds': args.rounds, 'rss_mb': payload})}")


if __name__ == "__main__":
    main()
