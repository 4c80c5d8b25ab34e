"""Publishing round trips against the local Hub test double (tests/hub_double.py).

Every Hub client runs in a subprocess with HF_ENDPOINT pointing at the double and a fresh
HF_HOME, exactly as a user's process would; huggingface_hub reads both at import time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import write_sources, write_tweeteval_dir
from helpers.hub_client import TOKEN, client_env, run_client, wait_for_health

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_ID = "tester/tiny-hate"


@pytest.fixture(scope="module")
def pushed(hub, tiny_model_dir, tmp_path_factory):
    """train.py --push_to_hub on the tiny model: returns the local output folder and the run's logs."""
    work = tmp_path_factory.mktemp("push")
    write_tweeteval_dir(work / "data")
    output_dir = work / "model"
    args = [str(REPO_ROOT / "train.py"), "--model_name_or_path", str(tiny_model_dir), "--data_dir", str(work / "data"),
            "--output_dir", str(output_dir), "--max_steps", "2", "--report_to", "none", "--use_cpu",
            "--disable_tqdm", "true", "--push_to_hub", "--hub_model_id", REPO_ID, "--deobfuscate", "true"]  # fmt: skip
    result = run_client(args, client_env(hub, work / "hf_home"), work)
    assert result.returncode == 0, result.stderr[-3000:]
    return output_dir, result.stdout + result.stderr


def test_pushed_model_loads_with_pipeline_in_a_fresh_cache(hub, pushed, tmp_path):
    output_dir, _ = pushed
    files = hub.files(REPO_ID)
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "eval_results.json"} <= set(files)
    assert not [path for path in files if path.startswith(("checkpoint-", "runs/")) or path == "training_args.bin"]
    local_f1 = json.loads((output_dir / "eval_results.json").read_text())["test"]["macro_f1"]
    commit_sha = hub.repos[("model", REPO_ID)].refs["main"]
    assert (
        hub.repos[("model", REPO_ID)].messages[commit_sha] == f"Upload hate-speech model (test macro-F1 {local_f1:.4f})"
    )

    code = (
        "from transformers import pipeline\n"
        f"clf = pipeline('text-classification', model='{REPO_ID}', device='cpu')\n"
        "import json\n"
        "print(json.dumps(sorted({r['label'] for r in clf(['@user go back invaders', 'nice sunny day', 'love'])})))"
    )
    result = run_client(["-c", code], client_env(hub, tmp_path / "fresh_home", token=None), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    labels = json.loads(result.stdout.strip().splitlines()[-1])
    assert labels and set(labels) <= {"hate", "not-hate"}
    assert (tmp_path / "fresh_home" / "hub").is_dir(), "the model came through the Hub cache"


def test_model_card_carries_the_test_score_in_model_index(hub, pushed, tmp_path):
    output_dir, _ = pushed
    code = (
        "import json\nfrom huggingface_hub import ModelCard\n"
        f"card = ModelCard.load('{REPO_ID}')\n"
        "result = card.data.eval_results[0]\n"
        "print(json.dumps([result.metric_value, result.dataset_type, result.dataset_config, result.dataset_split,"
        " card.data.base_model, '## Limitations and bias' in card.text]))"
    )
    result = run_client(["-c", code], client_env(hub, tmp_path / "home"), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    value, dataset, config, split, base_model, has_limits = json.loads(result.stdout.strip().splitlines()[-1])
    local_f1 = json.loads((output_dir / "eval_results.json").read_text())["test"]["macro_f1"]
    assert value == pytest.approx(round(local_f1, 4))
    assert (dataset, config, split) == ("cardiffnlp/tweet_eval", "hate", "test")
    assert has_limits and base_model is None  # the tiny base model is a local folder, not a Hub id


def test_evaluate_on_hub_id_matches_local_folder(hub, pushed, tmp_path):
    output_dir, _ = pushed
    data_dir = tmp_path / "data"
    write_tweeteval_dir(data_dir)
    scores = {}
    for name, model in (("local", str(output_dir)), ("hub", REPO_ID)):
        report = tmp_path / name
        args = [
            str(REPO_ROOT / "evaluate.py"),
            "--model",
            model,
            "--data_dir",
            str(data_dir),
            "--output_dir",
            str(report),
        ]
        result = run_client(args, client_env(hub, tmp_path / f"home_{name}"), tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        scores[name] = json.loads((report / "eval_results.json").read_text())["test"]
        assert (report / "predictions_test.txt").read_text().count("\n") == 16
    assert scores["hub"] == scores["local"]


def test_token_never_lands_in_files_or_logs(hub, pushed):
    output_dir, logs = pushed
    assert TOKEN not in logs
    for path, content in hub.files(REPO_ID).items():
        assert TOKEN.encode() not in content, path
    for path in output_dir.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_push_errors_are_one_line_and_retry_works(hub, pushed, tmp_path):
    output_dir, _ = pushed
    before = {p: p.stat().st_mtime_ns for p in output_dir.rglob("*") if p.is_file()}
    push = ["-m", "hatespeech.publishing.hub", "push", str(output_dir), "tester/retry"]

    refused = run_client(push, client_env(hub, tmp_path / "h1", token="hf_wrong"), tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("error: the Hub refused the token")
    assert "Traceback" not in refused.stderr and "hf_wrong" not in refused.stderr

    down_env = client_env(hub, tmp_path / "h2")
    down_env["HF_ENDPOINT"] = "http://127.0.0.1:9"  # discard port: nothing listens
    down = run_client(push, down_env, tmp_path)
    assert down.returncode == 1
    assert down.stderr.strip().splitlines()[-1].startswith("error: cannot reach the Hub at http://127.0.0.1:9")
    assert "Traceback" not in down.stderr

    assert {p: p.stat().st_mtime_ns for p in output_dir.rglob("*") if p.is_file()} == before
    retry = run_client(push, client_env(hub, tmp_path / "h3"), tmp_path)
    assert retry.returncode == 0, retry.stderr[-3000:]
    assert "model.safetensors" in hub.files("tester/retry")
    assert "tester/retry" in hub.files("tester/retry")["README.md"].decode()


def test_app_serves_the_pushed_model_by_hub_id(hub, pushed, tmp_path):
    import httpx
    from helpers.serving_fixtures import free_port

    port = free_port()
    env = client_env(hub, tmp_path / "space_home", token=None)
    env.update(MODEL_ID=REPO_ID, PORT=str(port), HOST="127.0.0.1")
    server = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}", server)
        assert health == {"model_id": REPO_ID, "revision": None, "ready": True}
        answer = httpx.post(f"http://127.0.0.1:{port}/predict_labels_one_tweet", params={"tweet": "go back"})
        assert answer.status_code == 200 and answer.json()["label"] in {"hate", "not-hate"}
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert (tmp_path / "space_home" / "hub").is_dir(), "the model was downloaded through the Hub cache"
    startup = {line.split('"')[1]: float(line.split()[-1])
               for line in metrics.splitlines() if line.startswith("hatespeech_startup_seconds{")}  # fmt: skip
    assert set(startup) == {"app", "model_load", "warm_up"} and all(seconds > 0 for seconds in startup.values())
    frozen = next(line for line in metrics.splitlines() if line.startswith("hatespeech_gc_frozen_objects "))
    assert float(frozen.split()[-1]) > 10_000  # the libraries loaded at start, out of the collector's sight


RAW_TWEETS = ["@Bob_99 go back invaders https://t.co/x1", "nice day @alice www.example.org/love",
              "so   happy\ttoday @x", "@a @b @c deport the vermin", "d3p0rt the v e r m i n, g.o b.a.c.k"]  # fmt: skip


def test_plain_pipeline_on_raw_tweets_matches_the_app(hub, pushed, tmp_path):
    """The pushed tokenizer normalises (and, trained with --deobfuscate, undoes disguises) by itself: raw tweets
    through pipeline() == the app's answers."""
    import httpx
    from helpers.serving_fixtures import free_port

    code = (
        "import json, sys\nfrom transformers import pipeline\n"
        f"clf = pipeline('text-classification', model='{REPO_ID}', device='cpu', top_k=None)\n"
        "ids = [clf.tokenizer(text)['input_ids'] for text in ('d3p0rt the v e r m i n', 'deport the vermin')]\n"
        "print(ids[0] == ids[1])\n"
        "print(json.dumps([{r['label']: r['score'] for r in rows} for rows in clf(json.loads(sys.argv[1]))]))"
    )
    result = run_client(["-c", code, json.dumps(RAW_TWEETS)], client_env(hub, tmp_path / "plain", token=None), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    undone, answers = result.stdout.strip().splitlines()[-2:]
    assert undone == "True"  # the disguise is undone inside tokenizer.json, with no project code
    plain = json.loads(answers)

    port = free_port()
    env = client_env(hub, tmp_path / "app_home", token=None)
    env.update(MODEL_ID=REPO_ID, PORT=str(port), HOST="127.0.0.1", INFERENCE_BACKEND="fp32")
    server = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server)
        served = httpx.post(f"http://127.0.0.1:{port}/v1/classify", json={"texts": RAW_TWEETS}).json()["predictions"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    for mine, app_answer in zip(plain, served, strict=True):
        assert max(mine, key=mine.get) == app_answer["label"]
        for label, probability in app_answer["probabilities"].items():
            assert mine[label] == pytest.approx(probability, abs=1e-5)


def test_a_hub_dataset_declared_in_yaml_trains_and_joins_the_panel(hub, tiny_model_dir, tmp_path):
    """The online source path: a data set on the Hub (here the double), named in a YAML catalog, read by the
    real datasets client; its held-out rows filter training like every source's, and the panel scores it."""
    write_tweeteval_dir(tmp_path / "data")
    leak = (tmp_path / "data" / "test_text.txt").read_text().splitlines()[0].strip()
    write_sources(tmp_path / "sources", leak="not in this test")
    repo = tmp_path / "dataset"
    (repo / "data").mkdir(parents=True)
    words = ["deport the vermin", "coffee with friends", "you filthy scum", "sunny day music"]
    rows = {"train": [*[(f"{words[i % 4]} {i}", i % 4) for i in range(40)], (leak, 2)],
            "validation": [(f"{words[i % 4]} v{i}", i % 4) for i in range(12)],
            "test": [(f"{words[i % 4]} t{i}", i % 4) for i in range(12)]}  # fmt: skip
    for split, split_rows in rows.items():
        lines = "".join(f'"{text}",{label}\n' for text, label in split_rows)
        (repo / "data" / f"{split}.csv").write_text("post,rating\n" + lines)
    upload = ("from huggingface_hub import HfApi\napi = HfApi()\n"
              "api.create_repo('tester/tiny-hate-posts', repo_type='dataset')\n"
              f"api.upload_folder(folder_path={str(repo)!r}, repo_id='tester/tiny-hate-posts', "
              "repo_type='dataset')\n")  # fmt: skip
    env = client_env(hub, tmp_path / "hf_home")
    assert run_client(["-c", upload], env, tmp_path).returncode == 0
    # Ratings 0 and 2 mean hate, 3 is dropped; the data set's own splits are used.
    (tmp_path / "hub_sources.yaml").write_text(
        "posts:\n  dataset: tester/tiny-hate-posts\n  text_column: post\n  label_column: rating\n  hate: [0, 2]\n"
        "  drop: [3]\n  splits: {train: train, validation: validation, test: test}\n"
    )
    output_dir = tmp_path / "model"
    args = [str(REPO_ROOT / "train.py"), "--model_name_or_path", str(tiny_model_dir), "--data_dir",
            str(tmp_path / "data"), "--output_dir", str(output_dir), "--max_steps", "2", "--report_to", "none",
            "--use_cpu", "--disable_tqdm", "true", "--sources", "posts", "--hub_sources",
            str(tmp_path / "hub_sources.yaml"), "--sources_dir", str(tmp_path / "sources")]  # fmt: skip
    result = run_client(args, env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    panel = json.loads((output_dir / "panel.json").read_text())
    assert panel["test"]["posts"]["n"] == 9 and panel["test"]["posts"]["true_hate_rate"] == pytest.approx(6 / 9)
    assert panel["validation"]["posts"]["n"] == 9 and "davidson" in panel["test"]
    train_results = json.loads((output_dir / "train_results.json").read_text())
    assert train_results["dropped_copies"]["posts"] == 1  # the TweetEval test tweet copied into its train split
    # 41 rows, 10 rated 3 dropped, the leaked copy dropped: 30 rows join TweetEval's training tweets.
    tweeteval_train = 48 - train_results["dropped_copies"]["tweeteval"]
    assert train_results["data_sizes"].startswith(f"{tweeteval_train + 30} train")
    assert any("/datasets/tester/tiny-hate-posts/resolve/" in request for request in hub.requests)


ONNX_REPO_ID = "tester/tiny-hate-onnx"
# The exported graph through nothing but the Hub client, the tokenizer and ONNX Runtime: what a user elsewhere runs.
PLAIN_ONNX_CLIENT = """import json, sys
import numpy as np, onnxruntime
from huggingface_hub import hf_hub_download
from transformers import AutoTokenizer
repo, file_name, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
tokenizer = AutoTokenizer.from_pretrained(repo)
session = onnxruntime.InferenceSession(hf_hub_download(repo, "onnx/" + file_name))
encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="np")
logits = session.run(None, {node.name: encoded[node.name] for node in session.get_inputs()})[0]
probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
print(json.dumps(probabilities.tolist()))
"""


@pytest.fixture(scope="module")
def pushed_onnx(hub, pushed):
    """The pushed run, exported with ``python -m hatespeech.inference.export onnx`` and pushed to its own repo."""
    output_dir, _ = pushed
    env = client_env(hub, output_dir.parent / "hf_home")
    export = run_client(["-m", "hatespeech.inference.export", "onnx", str(output_dir), "--data_dir",
                         str(output_dir.parent / "data"), "--parity_texts", "16"], env, output_dir.parent)  # fmt: skip
    assert export.returncode == 0, export.stderr[-3000:]
    push = run_client(
        ["-m", "hatespeech.publishing.hub", "push", str(output_dir), ONNX_REPO_ID], env, output_dir.parent
    )
    assert push.returncode == 0, push.stderr[-3000:]
    return output_dir


def test_the_exported_model_on_the_hub_answers_raw_tweets_like_pipeline_and_the_app(hub, pushed_onnx, tmp_path):
    files = hub.files(ONNX_REPO_ID)
    assert {"onnx/model.onnx", "onnx/model_quantized.onnx", "onnx/config.json", "onnx/parity.json"} <= set(files)
    assert "ORTModelForSequenceClassification" in files["README.md"].decode()
    env = client_env(hub, tmp_path / "plain", token=None)
    code = (
        "import json, sys\nfrom transformers import pipeline\n"
        "clf = pipeline('text-classification', model=sys.argv[1], device='cpu', top_k=None)\n"
        "print(json.dumps([[{r['label']: r['score'] for r in rows}[l] for l in ('not-hate', 'hate')]"
        " for rows in clf(json.loads(sys.argv[2]))]))"
    )
    result = run_client(["-c", code, ONNX_REPO_ID, json.dumps(RAW_TWEETS)], env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    weights = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    exported = {}
    for file_name in ("model.onnx", "model_quantized.onnx"):
        result = run_client(["-c", PLAIN_ONNX_CLIENT, ONNX_REPO_ID, file_name, json.dumps(RAW_TWEETS)], env, tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        exported[file_name] = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    assert np.abs(exported["model.onnx"] - weights).max() < 1e-3
    assert (exported["model.onnx"].argmax(1) == weights.argmax(1)).all()
    assert np.abs(exported["model_quantized.onnx"] - weights).max() < 0.03  # int8: the parity rule's margin
    # The app's engine loads the same graph by Hub id (what INFERENCE_BACKEND=onnx serves).
    code = (
        "import json, sys\nfrom hatespeech.inference.classifier import Classifier\n"
        "c = Classifier(sys.argv[1], backend='onnx')\n"
        "print(json.dumps(c.predict_proba(json.loads(sys.argv[2])).tolist()))"
    )
    result = run_client(["-c", code, ONNX_REPO_ID, json.dumps(RAW_TWEETS)], env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.abs(np.array(json.loads(result.stdout.strip().splitlines()[-1])) - exported["model.onnx"]).max() < 1e-5


@pytest.mark.skipif(
    not os.environ.get("OPTIMUM_PYTHON"),
    reason="set OPTIMUM_PYTHON to an interpreter with optimum-onnx[onnxruntime] "
    "(it pins transformers<4.58, so it cannot share this environment)",
)
def test_optimum_loads_the_exported_model_from_the_hub(hub, pushed_onnx, tmp_path):
    code = (
        "import json, sys\nfrom optimum.onnxruntime import ORTModelForSequenceClassification\n"
        "from transformers import AutoTokenizer, pipeline\n"
        "model = ORTModelForSequenceClassification.from_pretrained(\n"
        "    sys.argv[1], subfolder='onnx', file_name='model.onnx')\n"
        "tokenizer = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "clf = pipeline('text-classification', model=model, tokenizer=tokenizer, top_k=None)\n"
        "print(json.dumps([[{r['label']: r['score'] for r in rows}[l] for l in ('not-hate', 'hate')]"
        " for rows in clf(json.loads(sys.argv[2]))]))"
    )
    env = client_env(hub, tmp_path / "optimum", token=None)
    env.pop("PYTHONPATH")
    result = subprocess.run([os.environ["OPTIMUM_PYTHON"], "-c", code, ONNX_REPO_ID, json.dumps(RAW_TWEETS)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    through_optimum = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    result = run_client(["-c", PLAIN_ONNX_CLIENT, ONNX_REPO_ID, "model.onnx", json.dumps(RAW_TWEETS)], env, tmp_path)
    assert np.abs(through_optimum - np.array(json.loads(result.stdout.strip().splitlines()[-1]))).max() < 1e-5
