"""Real 2-process DDP (gloo on CPU) through torchrun: training and search."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EVERY_STEP, trial_rows
from helpers.serving_fixtures import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
# Evaluate and checkpoint after every step, so 2-step runs exercise selection and early stopping.


def _torchrun(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(REPO_ROOT / "train.py"),
        *args,
    ]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.mark.slow
def test_torchrun_two_process_training_writes_once(train_args, tmp_path):
    result = _torchrun([*train_args, "--max_steps", "2"], tmp_path)
    assert result.stdout.count("Model and results saved") == 1
    state = json.loads((tmp_path / "out" / "train_results.json").read_text())
    assert state["world_size"] == 2
    assert (tmp_path / "out" / "model.safetensors").is_file()


@pytest.mark.slow
def test_torchrun_two_process_search_finishes_and_agrees(train_args, tmp_path):
    storage = f"sqlite:///{tmp_path / 'ddp.db'}"
    args = [
        *train_args,
        "--search",
        "--n_trials",
        "2",
        "--storage",
        storage,
        "--max_steps",
        "2",
        *EVERY_STEP,
    ]
    result = _torchrun(args, tmp_path)
    assert result.stdout.count("Model and results saved") == 1
    assert trial_rows(tmp_path / "out") == 2
    # Both ranks logged the same best parameters (the broadcast reached rank 1).
    best_lines = [line for line in result.stderr.splitlines() if "Best trial parameters" in line]
    assert len(best_lines) == 2 and best_lines[0].split("parameters:")[1] == best_lines[1].split("parameters:")[1]
