"""Faults end in one line and a non-zero exit, never a traceback or a silently wrong answer."""

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import evaluate
import pytest

import app as app_module
import predict
import train
from hatespeech.inference.classifier import Classifier, ModelError

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def model_without_tokenizer(trained_model_dir, tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(trained_model_dir / name, folder / name)
    return folder


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert "Traceback" not in text
    return lines[-1]


def test_a_model_without_tokenizer_files_is_refused_everywhere(model_without_tokenizer, tweeteval_dir, tmp_path, capsys,
                                                                monkeypatch):  # fmt: skip
    with pytest.raises(ModelError, match="tokenizer"):
        Classifier(str(model_without_tokenizer))
    tweets = tmp_path / "t.txt"
    tweets.write_text("@user deport all the vermin immigrants now\n")
    args = ["--model", str(model_without_tokenizer)]
    assert predict.main([*args, "--input", str(tweets), "--output", str(tmp_path / "p.csv")]) == 2
    assert evaluate.main([*args, "--data_dir", str(tweeteval_dir), "--output_dir", str(tmp_path / "e")]) == 2
    monkeypatch.setenv("MODEL_ID", str(model_without_tokenizer))
    assert app_module.main() == 1  # before serving: /health never says ready
    err = capsys.readouterr().err
    assert err.count("the tokenizer knows no ordinary word") == 3


def test_a_tokenizer_larger_than_the_model_is_refused(trained_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path / "mismatch"
    tokenizer = AutoTokenizer.from_pretrained(trained_model_dir)
    tokenizer.add_tokens([f"extra{i}" for i in range(50)])
    tokenizer.save_pretrained(folder)
    AutoModelForSequenceClassification.from_pretrained(trained_model_dir).save_pretrained(folder)
    with pytest.raises(ModelError, match="do not belong together"):
        Classifier(str(folder))


def test_cli_faults_are_one_line(trained_model_dir, tweeteval_dir, tmp_path, capsys):
    bad_yaml, bad_value = tmp_path / "bad.yaml", tmp_path / "value.yaml"
    bad_yaml.write_text("learning_rate: [1\n")
    bad_value.write_text("learning_rate: abc\n")
    cases = [
        (train.main, ["--config", str(bad_yaml)], 2, "not valid YAML"),
        (train.main, ["--config", str(bad_value)], 2, "learning_rate: 'abc' is not a valid float"),
        (train.main, ["--no_such_flag", "1"], 2, "see --help for the valid options"),
        (train.main, ["--save_strategy", "steps"], 2, "Fix: pass --eval_strategy"),
        (evaluate.main, ["--model", str(tmp_path / "missing"), "--data_dir", str(tweeteval_dir)], 2,
         "cannot load a model"),
        (predict.main, ["--model", str(tmp_path / "missing"), "--input", __file__, "--output", "x.csv"], 2, ".py"),
        (predict.main, ["--model", str(trained_model_dir), "--input", __file__, "--output", str(tmp_path)], 2,
         "is a directory"),
    ]  # fmt: skip
    for main, argv, status, message in cases:
        assert main(argv) == status, argv
        assert message in _one_line(capsys.readouterr().err), argv
    with pytest.raises(SystemExit) as exit_info:  # argparse's own one-line usage error
        evaluate.main(["--model", str(trained_model_dir), "--split", "bogus"])
    assert exit_info.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err


def test_predict_fails_when_nothing_can_be_classified(trained_model_dir, tmp_path, capsys):
    for content in (b"", b"\x00\n\n"):
        source = tmp_path / "bad.txt"
        source.write_bytes(content)
        assert (
            predict.main(
                ["--model", str(trained_model_dir), "--input", str(source), "--output", str(tmp_path / "o.csv")]
            )
            == 1
        )
        assert "no tweet could be classified" in capsys.readouterr().err


def test_a_hub_that_never_answers_ends_in_one_line(trained_model_dir, tmp_path):
    """A server that accepts connections and never replies: the push gives up within its timeout and retries."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    stop = threading.Event()

    def accept_forever():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # keep it open, say nothing
            except OSError:
                continue

    threading.Thread(target=accept_forever, daemon=True).start()
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{listener.getsockname()[1]}", "HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_x",
           "HF_HUB_DISABLE_XET": "1", "HATESPEECH_HUB_TIMEOUT": "1", "HATESPEECH_HUB_ATTEMPTS": "2",
           "PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path / "hf")}  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "hatespeech.publishing.hub", "push", str(trained_model_dir), "tester/hung"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    stop.set()
    listener.close()
    assert result.returncode == 1
    assert "no answer from the Hub" in _one_line(result.stderr) and "after 2 attempt(s)" in result.stderr
    assert time.monotonic() - started < 60
    assert accepted, "the client did connect"


def test_train_push_to_an_unreachable_hub_prints_scores_then_one_line(train_args, tmp_path):
    env = {**_child_env(), "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0", "HF_TOKEN": "hf_x",
           "HATESPEECH_HUB_ATTEMPTS": "1", "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    result = subprocess.run([sys.executable, str(REPO_ROOT / "train.py"), *train_args, "--max_steps", "1",
                             "--push_to_hub", "--hub_model_id", "tester/x"], env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 1
    assert "test macro-F1" in result.stdout  # the scores come before the push
    assert _one_line(result.stderr).startswith("error: cannot reach the Hub at http://127.0.0.1:9")
    assert "retry with: python -m hatespeech.publishing.hub push" in result.stderr


def test_resume_skips_a_checkpoint_cut_short_by_sigkill(train_args, tmp_path):
    """Kill a run with SIGKILL while it writes its first checkpoint, then resume with `latest`."""
    hook = tmp_path / "hook"
    hook.mkdir()
    signal_file = tmp_path / "writing-checkpoint"
    # Test-only shim loaded by the child: announce the first checkpoint write mid-way, then hang there.
    (hook / "sitecustomize.py").write_text(
        "import pathlib, time\n"
        "from transformers import Trainer\n"
        "_save = Trainer._save_optimizer_and_scheduler\n"
        "def _slow(self, output_dir):\n"
        f"    pathlib.Path({str(signal_file)!r}).write_text(output_dir)\n"
        "    time.sleep(600)\n"
        "Trainer._save_optimizer_and_scheduler = _slow\n"
    )
    out, argv = tmp_path / "out", train_args  # the fixture trains into tmp_path / "out"
    env = {**_child_env(), "PYTHONPATH": f"{hook}:{REPO_ROOT}"}
    child = subprocess.Popen([sys.executable, str(REPO_ROOT / "train.py"), *argv, "--save_strategy", "epoch"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while not signal_file.exists():
        assert child.poll() is None and time.monotonic() < deadline, "the run never reached its first checkpoint"
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    partial = Path(signal_file.read_text())
    assert partial.is_dir() and not (partial / "trainer_state.json").exists()

    assert train.main([*argv, "--resume_from_checkpoint", "latest"]) == 0
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 6  # 2 epochs of 3 steps
    assert (partial / "trainer_state.json").is_file()  # the cut checkpoint was written again, whole


def _child_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_an_earlier_run_in_the_output_folder_is_refused_or_replaced_never_mixed(train_args, tmp_path, capsys):
    """A second run into a used folder would have published the first run's panel, plots and search."""
    out = tmp_path / "out"
    quick = [*train_args, "--max_steps", "2", "--save_strategy", "no", "--load_best_model_at_end", "false"]
    assert train.main(quick) == 0
    for stale in ("search/best_trial.json", "plots/hatecheck_functionalities.png", "panel.json"):
        (out / stale).parent.mkdir(exist_ok=True)
        (out / stale).write_text("{}")  # as an earlier run with a search and a panel left them
    (out / "notes.txt").write_text("the user's own file")
    assert train.main(quick) == 2
    assert "holds an earlier run (config.json)" in capsys.readouterr().err
    assert train.main([*quick, "--overwrite_output_dir", "true"]) == 0
    assert not any((out / stale).exists() for stale in ("search", "plots/hatecheck_functionalities.png", "panel.json"))
    assert (out / "notes.txt").read_text() == "the user's own file"
    card = (out / "README.md").read_text()
    assert "Best trial" not in card and "Evaluation panel" not in card


def test_resuming_with_other_data_options_is_refused(train_args, tmp_path, capsys):
    """A resumed run that trains on other data than its first steps did would record the wrong sources."""
    quick = [*train_args, "--max_steps", "2", "--save_strategy", "steps", "--save_steps", "1",
             "--load_best_model_at_end", "false"]  # fmt: skip
    assert train.main(quick) == 0
    assert train.main([*quick, "--max_train_samples", "20", "--resume_from_checkpoint", "latest"]) == 2
    assert "was trained with other data options (max_train_samples: [None])" in capsys.readouterr().err
    assert train.main([*quick, "--resume_from_checkpoint", "latest"]) == 0  # the same data: resumes


def test_a_length_the_encoder_has_no_positions_for_is_refused_before_anything_is_written(train_args, tmp_path,
                                                                                        capsys):  # fmt: skip
    """The tiny encoder has 128 positions: a 200-token maximum would crash at the first long tweet, mid-run."""
    assert train.main([*train_args, "--max_seq_length", "200"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--max_seq_length 200 is more than" in error and "(128 positions)" in error
    assert not (tmp_path / "out").exists()  # the folder is not claimed: the corrected command just runs


def test_the_position_limit_follows_each_encoders_position_scheme():
    from transformers import BertConfig, RobertaConfig

    from hatespeech.modeling import position_limit

    assert position_limit(BertConfig(max_position_embeddings=512)) == 512
    # RoBERTa's positions start after the padding index (1): 514 rows hold 512 tokens.
    assert position_limit(RobertaConfig(max_position_embeddings=514, pad_token_id=1)) == 512


def test_a_half_written_model_file_is_one_line_that_names_it(trained_model_dir, tweeteval_dir, tmp_path, capsys,
                                                              monkeypatch):  # fmt: skip
    tweets = tmp_path / "t.txt"
    tweets.write_text("@user deport all the vermin immigrants now\n")
    for damage, named in (("model.safetensors", "model.safetensors cannot be read"),
                          ("tokenizer.json", "the tokenizer files (tokenizer.json")):  # fmt: skip
        folder = tmp_path / f"cut-{damage}"
        shutil.copytree(trained_model_dir, folder)
        data = (folder / damage).read_bytes()
        for content in (data[: len(data) // 2], b""):  # cut short, and empty
            (folder / damage).write_bytes(content)
            args = ["--model", str(folder)]
            assert predict.main([*args, "--input", str(tweets), "--output", str(tmp_path / "p.csv")]) == 2
            assert evaluate.main([*args, "--data_dir", str(tweeteval_dir), "--output_dir", str(tmp_path / "e")]) == 2
            monkeypatch.setenv("MODEL_ID", str(folder))
            assert app_module.main() == 1
            err = capsys.readouterr().err
            assert err.count(named) == 3 and "Traceback" not in err


def test_damaged_results_files_never_stop_the_app_or_the_push_traceback(trained_model_dir, tmp_path, capsys):
    from hatespeech.publishing import hub
    from hatespeech.serving.ui import model_report

    folder = tmp_path / "damaged"
    shutil.copytree(trained_model_dir, folder)
    results = json.loads((folder / "eval_results.json").read_text())
    damages = {
        "eval_results.json": json.dumps({**results, "test": {**results["test"], "macro_f1": "high"}}),
        "panel.json": '{"validation": {"tweeteval": {"macro_f1": nu',  # cut short
    }
    for name, content in damages.items():
        (folder / name).write_text(content)
        markdown, _ = model_report(str(folder), None)
        assert f"*{name} could not be read" in markdown and "the model is served all the same" in markdown
        # The push refuses in one line before contacting any Hub.
        assert hub.main(["push", str(folder), "org/model"]) == 1
        assert "the card cannot be written from the run's files" in _one_line(capsys.readouterr().err)
        (folder / name).unlink()


def test_a_pipe_in_a_source_name_stays_inside_its_table_cell():
    from hatespeech.evaluation.panel_result import PanelResult
    from hatespeech.evaluation.panel_view import panel_markdown

    scores = {"macro_f1": 0.5, "roc_auc": 0.6, "pred_hate_rate": 0.4, "true_hate_rate": 0.4, "n": 10}
    panel = {"validation_mean_macro_f1": 0.5, "validation": {"a|b": scores}, "test": {"a|b": scores},
             "validation_perturbed": {"a|b": scores}, "validation_perturbed_mean_macro_f1": 0.5,
             "hatecheck": {"n": 1, "overall": 1.0, "hateful": 1.0, "non_hateful": 1.0,
                           "functionalities": {}}}  # fmt: skip
    rows = [line for line in panel_markdown(PanelResult.from_dict(panel)).splitlines() if "a\\|b" in line]
    # Column separators (unescaped pipes): 7 in the test-split table (6 columns), 6 in the validation table (5).
    assert [len(re.findall(r"(?<!\\)\|", line)) for line in rows] == [7, 6]


def test_evaluate_checks_the_panel_sources_before_writing_anything(trained_model_dir, tmp_path, capsys):
    """Finding 20: evaluate.py --panel with a bad --sources_dir wrote the test report, then refused."""
    out = tmp_path / "report"
    args = ["--model", str(trained_model_dir), "--data_dir", str(trained_model_dir.parent / "data"), "--panel",
            "--sources_dir", str(tmp_path / "missing"), "--output_dir", str(out)]  # fmt: skip
    assert evaluate.main(args) == 2
    assert capsys.readouterr().err.startswith("error: ") and not out.exists()
