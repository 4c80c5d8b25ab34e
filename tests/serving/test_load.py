"""A bounded locust run (loopback only) against the real server: no failed requests."""

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.serving_fixtures import serve

import app as app_module

LOCUSTFILE = Path(__file__).resolve().parents[2] / "bench" / "locustfile.py"


@pytest.mark.slow
def test_locust_headless_run_has_no_failures(trained_model_dir, tmp_path):
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "20", "-r", "10",
                   "-t", "10s", "--host", url, "--csv", str(tmp_path / "load"), "--only-summary"]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "load_stats.csv").open() as handle:
        total = next(row for row in csv.DictReader(handle) if row["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 20
    assert int(total["Failure Count"]) == 0
