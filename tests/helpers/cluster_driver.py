"""The driver of the cluster tests, run inside the loopback namespace (tests/helpers/ray_cluster.py): classifies a
file on the cluster while killing one model actor's process once rows have come back, and writes what it got."""

import json
import os
import signal
import sys
import time
from pathlib import Path

from hatespeech.inference.cluster import ClusterJob, classified_rows


def kill_one_actor() -> int:
    """SIGKILL the process of one live actor of the model pool; its pid."""
    from ray.util.state import list_actors

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        alive = [a for a in list_actors(filters=[("state", "=", "ALIVE")]) if "MapWorker" in a.class_name and a.pid]
        if alive:
            os.kill(alive[0].pid, signal.SIGKILL)
            return alive[0].pid
        time.sleep(0.2)
    raise RuntimeError("no model actor came alive")


def main(model: str, source: str, out: str) -> None:
    job = ClusterJob(os.environ["RAY_ADDRESS"], model, None, "fp32", "text", actors=2, batch_size=16,
                     lines_per_piece=250)  # fmt: skip
    rows, killed = [], None
    for row in classified_rows(job, [Path(source)]):
        rows.append([row["line"], row["label"]])
        if len(rows) == 200:
            killed = kill_one_actor()
    Path(out).write_text(json.dumps({"killed": killed, "rows": rows}))


if __name__ == "__main__":
    main(*sys.argv[1:])
