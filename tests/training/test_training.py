"""A training run end to end: saving, reproducing, resuming, early stopping, data errors."""

import json
from pathlib import Path

import pytest
import yaml
from conftest import EVERY_STEP, tweeteval_macro_f1
from transformers import pipeline

import train
from hatespeech.config import parse_config
from hatespeech.data.loading import DataArguments
from hatespeech.modeling import ModelArguments
from hatespeech.training.search import SearchArguments
from hatespeech.training.steps import TrainingArguments


def test_two_step_run_saves_a_loadable_labelled_model(train_args, tmp_path, capsys):
    out_dir = tmp_path / "out"
    assert train.main([*train_args, "--max_steps", "2", *EVERY_STEP]) == 0
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "run_config.yaml",
        "train_results.json",
        "eval_results.json",
    ):
        assert (out_dir / name).is_file(), name
    config = json.loads((out_dir / "config.json").read_text())
    assert config["id2label"] == {"0": "not-hate", "1": "hate"}
    assert config["label2id"] == {"not-hate": 0, "hate": 1}
    scores = json.loads((out_dir / "eval_results.json").read_text())
    assert set(scores) == {"validation", "test"}
    assert 0.0 <= scores["test"]["macro_f1"] <= 1.0
    assert json.loads((out_dir / "train_results.json").read_text())["world_size"] == 1
    assert "validation macro-F1" in capsys.readouterr().out
    for split in ("validation", "test"):
        assert (out_dir / f"predictions_{split}.txt").read_text().count("\n") == 16
        for kind in ("confusion_matrix", "precision_recall", "reliability"):
            assert (out_dir / "plots" / f"{split}_{kind}.png").stat().st_size > 0
    card = (out_dir / "README.md").read_text()
    assert "](plots/test_confusion_matrix.png)" in card and f"| test | {scores['test']['macro_f1']:.4f} |" in card

    classifier = pipeline("text-classification", model=str(out_dir), device="cpu")
    assert classifier("@user go back invaders")[0]["label"] in {"hate", "not-hate"}


def test_run_is_reproducible_from_its_saved_config(train_args, tmp_path):
    assert train.main([*train_args, "--max_steps", "2", "--seed", "7"]) == 0
    saved = yaml.safe_load((tmp_path / "out" / "run_config.yaml").read_text())
    assert saved["seed"] == 7 and saved["max_steps"] == 2
    assert "hub_token" not in saved
    # Loading the saved file gives back the same options.
    *_, training_args, config_path = parse_config(
        (DataArguments, ModelArguments, SearchArguments, TrainingArguments),
        ["--config", str(tmp_path / "out" / "run_config.yaml")],
        None,
    )
    assert (training_args.seed, training_args.max_steps, training_args.learning_rate) == (7, 2, 1e-3)
    first = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    assert train.main([*train_args, "--max_steps", "2", "--seed", "7", "--output_dir", str(tmp_path / "again")]) == 0
    second = json.loads((tmp_path / "again" / "eval_results.json").read_text())
    assert first["validation"]["macro_f1"] == second["validation"]["macro_f1"]


def test_training_without_evaluation_turns_early_stopping_off(train_args, tmp_path, caplog):
    no_eval = ["--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false"]
    assert train.main([*train_args, "--max_steps", "1", *no_eval]) == 0
    assert "early stopping is off" in caplog.text
    test_scores = json.loads((tmp_path / "out" / "eval_results.json").read_text())["test"]
    predicted = [int(x) for x in (tmp_path / "out" / "predictions_test.txt").read_text().split()]
    gold = [int(x) for x in (train_args_data(train_args) / "test_labels.txt").read_text().split()]
    assert test_scores["macro_f1"] == pytest.approx(tweeteval_macro_f1(gold, predicted))  # scored, and re-scorable


def test_bad_data_exits_with_one_line(train_args, tweeteval_dir, capsys):
    (tweeteval_dir / "val_labels.txt").write_text("0\n")
    assert train.main(train_args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "val_text.txt has 16 lines" in err and "Traceback" not in err


def test_resume_from_latest_checkpoint(train_args, tmp_path):
    args = [
        *train_args,
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
        "--eval_strategy",
        "steps",
        "--eval_steps",
        "2",
        "--early_stopping_patience",
        "0",
    ]
    assert train.main([*args, "--max_steps", "2"]) == 0
    assert (tmp_path / "out" / "checkpoint-2").is_dir()
    assert train.main([*args, "--max_steps", "4", "--resume_from_checkpoint", "latest"]) == 0
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    # The step-2 evaluation came back with the checkpoint: training continued, it did not restart.
    eval_steps = [entry["step"] for entry in state["log_history"] if "eval_macro_f1" in entry]
    assert eval_steps[:2] == [2, 4]  # then the final evaluation of the best model
    assert (tmp_path / "out" / "checkpoint-4").is_dir()


def test_resume_latest_without_checkpoint_starts_from_the_beginning(train_args, tmp_path, caplog):
    assert train.main([*train_args, "--max_steps", "1", "--resume_from_checkpoint", "latest"]) == 0
    assert "no complete checkpoint" in caplog.text
    assert json.loads((tmp_path / "out" / "trainer_state.json").read_text())["global_step"] == 1


def train_args_data(train_args: list[str]) -> Path:
    return Path(train_args[train_args.index("--data_dir") + 1])
