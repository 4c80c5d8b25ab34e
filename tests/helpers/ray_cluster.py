"""A real two-node Ray cluster on this machine, inside a network namespace that has only loopback.

Ray binds the machine's outward interface whatever ``--node-ip-address`` says; in a namespace created with
``unshare --net`` (root) the only interface is ``lo``, so both nodes and the driver talk over 127.0.0.1 and nothing
leaves the machine. ``run_on_cluster`` starts the head and the nodes joining it (by default a 2-CPU head and a
1-CPU node), runs one command as the cluster's driver, and stops them, all inside one namespace. The tests and
bench/cluster.py use it.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
HEAD_PORT = 6380


def available() -> str | None:
    """Why a loopback cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "unshare --net needs root"
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare (util-linux) and ip (iproute2) are needed"
    if not (BIN / "ray").exists():
        return "Ray is not installed (pip install -e .[cluster])"
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True)
    return None if probe.returncode == 0 else f"unshare --net is refused: {probe.stderr.decode()[-200:]}"


def run_on_cluster(
    command: list[str], folder: Path, timeout: float = 600, nodes: tuple[int, ...] = (2, 1)
) -> subprocess.CompletedProcess:
    """Run ``command`` as the driver of a fresh loopback cluster of ``nodes`` (CPUs of the head, then of each node
    that joins it); the cluster's address is in the command's environment as ``RAY_ADDRESS``."""
    ray, memory = shlex.quote(str(BIN / "ray")), 150_000_000
    # Ray's session folder holds unix sockets, whose paths must stay short: not under pytest's deep tmp_path.
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    common = f"--object-store-memory {memory} --disable-usage-stats --node-ip-address 127.0.0.1"
    lines = ["set -u", "ip link set lo up", f"export RAY_ADDRESS=127.0.0.1:{HEAD_PORT} RAY_USAGE_STATS_ENABLED=0"]
    for index, cpus in enumerate(nodes):
        log = shlex.quote(str(folder / f"node{index}.log"))
        role = (f"--head --port {HEAD_PORT} --include-dashboard false --temp-dir {temp}" if index == 0
                else f"--address 127.0.0.1:{HEAD_PORT}")  # fmt: skip
        lines.append(f"{ray} start {role} --num-cpus {cpus} {common} > {log} 2>&1 "
                     f"|| {{ cat {log}; {ray} stop --force; exit 90; }}")  # fmt: skip
    lines += [shlex.join(command), "status=$?", f"{ray} stop --force > /dev/null 2>&1", "exit $status"]
    try:
        return subprocess.run(
            ["unshare", "--net", "bash", "-c", "\n".join(lines)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"},
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
