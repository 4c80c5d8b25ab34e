"""The Optuna search on one machine: resuming a SQLite study, trial parameters reaching the model."""

import json

import pytest
import yaml
from conftest import EVERY_STEP, trial_rows

import train
from hatespeech.search import SearchSpace


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
    assert trial_rows(tmp_path / "out") == 2
    assert train.main([*args, "--n_trials", "3"]) == 0
    assert trial_rows(tmp_path / "out") == 3
    summary = json.loads((tmp_path / "out" / "search" / "best_trial.json").read_text())
    assert summary["n_finished"] == 3
    # The final model was retrained with the best trial's learning rate.
    saved = yaml.safe_load((tmp_path / "out" / "run_config.yaml").read_text())
    assert saved["learning_rate"] == pytest.approx(summary["best_params"]["learning_rate"])
    assert (tmp_path / "out" / "search" / "history.png").stat().st_size > 0
    assert not list((tmp_path / "out").glob("run-*")), "per-trial checkpoints are cleaned up"


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
