import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from conftest import EVERY_STEP
from serving_fixtures import free_port
from transformers import pipeline

import train
from hatespeech.config import ConfigError, parse_config
from hatespeech.data import DataArguments
from hatespeech.modeling import ModelArguments
from hatespeech.search import SearchArguments, SearchSpace
from hatespeech.training import TrainingArguments

REPO_ROOT = Path(__file__).resolve().parents[1]
# Evaluate and checkpoint after every step, so 2-step runs exercise selection and early stopping.


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in (
        "--data_dir",
        "--model_name_or_path",
        "--search",
        "--n_trials",
        "--storage",
        "--study_name",
        "--early_stopping_patience",
        "--learning_rate",
        "--config",
    ):
        assert option in out


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
    assert json.loads((tmp_path / "out" / "eval_results.json").read_text())["test"]["macro_f1"] >= 0


def test_yaml_values_are_typed_and_cli_flags_override_them(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("learning_rate: 3e-5\nnum_train_epochs: 2\noutput_dir: from-yaml\n")
    *_, training_args, _ = parse_config(
        (DataArguments, TrainingArguments), ["--config", str(config), "--num_train_epochs", "5"], None
    )
    assert training_args.learning_rate == 3e-5 and isinstance(training_args.learning_rate, float)
    assert training_args.num_train_epochs == 5
    assert training_args.output_dir == "from-yaml"


def test_unknown_yaml_option_is_a_clear_error(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("learning_rat: 3e-5\n")
    assert train.main(["--config", str(config)]) == 2
    assert "unknown option(s) ['learning_rat']" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not found"):
        parse_config((DataArguments,), ["--config", str(tmp_path / "missing.yaml")], None)


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


def test_search_with_sqlite_storage_resumes_to_three_trials(train_args, tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    args = [
        *train_args,
        "--search",
        "--storage",
        storage,
        "--study_name",
        "tiny",
        "--max_steps",
        "2",
        *EVERY_STEP,
    ]
    assert train.main([*args, "--n_trials", "2"]) == 0
    assert _trial_rows(tmp_path / "out") == 2
    assert train.main([*args, "--n_trials", "3"]) == 0
    assert _trial_rows(tmp_path / "out") == 3
    summary = json.loads((tmp_path / "out" / "search" / "best_trial.json").read_text())
    assert summary["n_finished"] == 3
    # The final model was retrained with the best trial's learning rate.
    saved = yaml.safe_load((tmp_path / "out" / "run_config.yaml").read_text())
    assert saved["learning_rate"] == pytest.approx(summary["best_params"]["learning_rate"])
    assert (tmp_path / "out" / "search" / "history.png").stat().st_size > 0
    assert not list((tmp_path / "out").glob("run-*")), "per-trial checkpoints are cleaned up"


def _trial_rows(output_dir: Path) -> int:
    with (output_dir / "search" / "trials.csv").open() as handle:
        return sum(1 for _ in csv.DictReader(handle))


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
    assert _trial_rows(tmp_path / "out") == 2
    # Both ranks logged the same best parameters (the broadcast reached rank 1).
    best_lines = [line for line in result.stderr.splitlines() if "Best trial parameters" in line]
    assert len(best_lines) == 2 and best_lines[0].split("parameters:")[1] == best_lines[1].split("parameters:")[1]


def test_freeze_layers_stops_gradients_below_the_cut(tiny_model_dir):
    from hatespeech.modeling import get_model

    model = get_model(ModelArguments(model_name_or_path=str(tiny_model_dir), freeze_layers=1))
    assert not any(p.requires_grad for p in model.bert.embeddings.parameters())
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    head_only = get_model(ModelArguments(model_name_or_path=str(tiny_model_dir), freeze_layers=-1))
    assert {n for n, p in head_only.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}


def test_training_with_frozen_layers_leaves_them_unchanged(train_args, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    assert train.main([*train_args, "--freeze_layers", "1", "--max_steps", "2"]) == 0
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    key = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(before[key], after[f"bert.{key}"])
    top = "encoder.layer.1.attention.self.query.weight"
    assert not torch.equal(before[top], after[f"bert.{top}"])


def test_model_init_applies_a_trials_model_parameters_before_they_are_sampled(train_args):
    """The Trainer builds the model before it samples the trial: model_init must ask the space itself."""
    import optuna

    from hatespeech.data import load_splits
    from hatespeech.modeling import get_tokenizer
    from hatespeech.training import make_trainer, parse_train_args, tokenize

    data_args, model_args, _, training_args = parse_train_args(train_args)
    tokenizer = get_tokenizer(model_args)
    tokenized = tokenize(load_splits(data_args), tokenizer, data_args.max_seq_length)
    space = SearchSpace(params={"freeze_layers": {"type": "int", "low": 0, "high": 2}})
    trainer = make_trainer(training_args, model_args, tokenized, tokenizer, hp_space=space.suggest)
    model = trainer.call_model_init(optuna.trial.FixedTrial({"freeze_layers": 1}))  # nothing suggested yet
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
