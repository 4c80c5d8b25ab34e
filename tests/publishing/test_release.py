"""The release command end to end against the Hub test double: model repo, tags, and the Space."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_tweeteval_dir
from helpers.hub_client import client_env, run_client, wait_for_health

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_ID, SPACE_ID = "tester/released-hate", "tester/released-hate-demo"


@pytest.fixture(scope="module")
def release(hub, tiny_model_dir, tmp_path_factory):
    """A function that runs one release in a subprocess and returns the finished process."""
    work = tmp_path_factory.mktemp("release")
    write_tweeteval_dir(work / "data")

    def run(version: str, *extra: str) -> subprocess.CompletedProcess:
        args = ["-m", "hatespeech.publishing.release", "--model_id", MODEL_ID, "--space_id", SPACE_ID,
                "--version", version, "--output_dir", str(work / "runs"), *extra,
                "--model_name_or_path", str(tiny_model_dir),
                "--data_dir", str(work / "data"), "--max_steps", "2", "--report_to", "none", "--use_cpu",
                "--disable_tqdm", "true"]  # fmt: skip
        return run_client(args, client_env(hub, work / f"home-{version}"), work)

    return run


def test_release_gate_refuses_a_low_score_and_publishes_nothing(hub, release):
    result = release("v0.0.1", "--min_test_macro_f1", "1.01")
    assert result.returncode == 1
    assert "is below the threshold 1.0100: nothing published" in result.stderr.strip().splitlines()[-1]
    assert ("model", MODEL_ID) not in hub.repos


def test_two_releases_keep_both_revisions_and_the_space_serves_the_latest(hub, release, tmp_path):
    first = release("v1.0.0")
    assert first.returncode == 0, first.stderr[-3000:]
    model = hub.repos[("model", MODEL_ID)]
    assert model.refs["v1.0.0"] == model.refs["main"]
    space = hub.repos[("space", SPACE_ID)]
    assert space.sdk == "gradio" and space.refs["v1.0.0"] == space.refs["main"]
    files = hub.files(SPACE_ID, repo_type="space")
    assert {"app.py", "requirements.txt", "README.md", "space_model.json", "hatespeech/inference/classifier.py"} <= set(
        files
    )
    readme = files["README.md"].decode()
    assert "sdk: gradio" in readme and "app_file: app.py" in readme and f"  - {MODEL_ID}" in readme
    assert json.loads(files["space_model.json"]) == {"model_id": MODEL_ID, "revision": "v1.0.0"}

    second = release("v1.1.0", "--seed", "7")
    assert second.returncode == 0, second.stderr[-3000:]
    assert model.refs["v1.1.0"] == model.refs["main"] != model.refs["v1.0.0"]
    assert "config.json" in hub.files(MODEL_ID, "v1.0.0"), "the first release is still loadable by its tag"
    assert release("v1.1.0").returncode == 1, "a version is released only once"

    # Download the Space repo and start its app.py from those files alone, as a Space would.
    space_dir = tmp_path / "space"
    env = client_env(hub, tmp_path / "space_home", token=None)
    code = (
        "from huggingface_hub import snapshot_download\n"
        f"snapshot_download('{SPACE_ID}', repo_type='space', local_dir='{space_dir}')"
    )
    assert run_client(["-c", code], env, tmp_path).returncode == 0
    from helpers.serving_fixtures import free_port

    port = free_port()
    env.update(PORT=str(port), HOST="127.0.0.1")
    env.pop("PYTHONPATH")  # only the Space's own copy of the package
    server = subprocess.Popen([sys.executable, "app.py"], cwd=space_dir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert health == {"model_id": MODEL_ID, "revision": "v1.1.0", "ready": True}


def test_release_input_faults_are_one_line_as_in_train(release):
    """Each used to end in a DataError or ConfigError traceback."""
    cases = {
        ("--train_file", "/nonexistent/t.csv", "--validation_file", "/nonexistent/v.csv"): "/nonexistent/t.csv: file",
        ("--no_such_flag", "1"): "--no_such_flag",
        ("--sources", "twitter"): "unknown source 'twitter'",
    }
    for extra, message in cases.items():
        result = release("v9.0.0", *extra)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert message in lines[-1] and lines[-1].startswith("error: ")
