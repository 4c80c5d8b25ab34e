"""Hub clients as a user's process runs them: a subprocess with HF_ENDPOINT on the Hub double and a fresh HF_HOME
(huggingface_hub reads both at import time), and the wait for an app started that way."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from helpers.hub_double import HubDouble

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hf_doubleTOKEN0123456789secret"


@pytest.fixture(scope="module")
def hub():
    """The Hub double on a loopback port, for the tests of one module."""
    double = HubDouble(token=TOKEN).start()
    yield double
    double.stop()


def run_client(code_or_args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    """Run a Python entry point or snippet as a separate process against the double."""
    result = subprocess.run(
        [sys.executable, *code_or_args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    return result


def client_env(hub: HubDouble, home: Path, token: str | None = TOKEN) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONPATH=str(REPO_ROOT),
        TOKENIZERS_PARALLELISM="false",
    )
    if token:
        env["HF_TOKEN"] = token
    return env


def wait_for_health(url: str, server: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"app.py exited: {server.stdout.read()[-3000:]}")
        try:
            return httpx.get(f"{url}/health", timeout=2).json()
        except httpx.TransportError:
            time.sleep(0.5)
    raise AssertionError("app.py did not answer /health in time")
