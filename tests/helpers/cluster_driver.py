"""The driver of the cluster tests, run inside the loopback namespace (tests/helpers/ray_cluster.py): classifies a
file on the cluster while killing one model actor's process once rows have come back, and writes what it got."""

import json
import os
import signal
import sys
import time
from pathlib import Path

from hatespeech.inference.cluster import ClusterJob, classified_rows, plan


def kill_one_actor() -> int:
    """SIGKILL the process of one live actor of the model pool (Ray titles it ``ray::MapWorker(...)``); its pid."""
    import psutil

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["cmdline"]):
            if (process.info["cmdline"] or [""])[0].startswith("ray::MapWorker"):
                os.kill(process.pid, signal.SIGKILL)
                return process.pid
        time.sleep(0.2)
    raise RuntimeError("no model actor came alive")


def main(model: str, source: str, out: str) -> None:
    job = ClusterJob(os.environ["RAY_ADDRESS"], model, None, "fp32", "text", actors=2, batch_size=16)
    rows, killed = [], None
    for row in classified_rows(job, plan([Path(source)], lines_per_piece=250)):
        rows.append([row["line"], row["label"]])
        if len(rows) == 200:
            killed = kill_one_actor()
    Path(out).write_text(json.dumps({"killed": killed, "rows": rows}))


if __name__ == "__main__":
    main(*sys.argv[1:])
