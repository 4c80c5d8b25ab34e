"""The Optuna search on one machine: resuming a SQLite study, trial parameters reaching the model."""

import json

import optuna
import pytest
import yaml
from conftest import EVERY_STEP, trial_rows, write_sources

import train
from hatespeech.training.search import SearchSpace


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

    from hatespeech.data.loading import load_splits
    from hatespeech.modeling import get_tokenizer
    from hatespeech.training.steps import make_trainer, parse_train_args, tokenize

    data_args, model_args, _, training_args = parse_train_args(train_args)
    tokenizer = get_tokenizer(model_args)
    tokenized = tokenize(load_splits(data_args), tokenizer, data_args.max_seq_length)
    space = SearchSpace(params={"freeze_layers": {"type": "int", "low": 0, "high": 2}})
    trainer = make_trainer(training_args, model_args, tokenized, tokenizer, hp_space=space.suggest)
    model = trainer.call_model_init(optuna.trial.FixedTrial({"freeze_layers": 1}))  # nothing suggested yet
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())


def test_a_trial_trains_on_its_source_temperature_and_the_best_one_is_kept(train_args, tmp_path):
    """source_temperature in the space: each trial resamples the training rows per source (as loading with
    --source_temperature would), and the final run trains on the best trial's mix."""
    import optuna

    from hatespeech.data.loading import load_splits
    from hatespeech.modeling import get_tokenizer
    from hatespeech.training.steps import make_trainer, parse_train_args, tokenize

    write_sources(tmp_path / "sources", leak="not in this test")
    mixed = [*train_args, "--sources", "davidson", "ethos", "--sources_dir", str(tmp_path / "sources")]
    data_args, model_args, _, training_args = parse_train_args(mixed)
    tokenizer = get_tokenizer(model_args)
    tokenized = tokenize(load_splits(data_args), tokenizer, data_args.max_seq_length)
    space = SearchSpace(params={"source_temperature": {"type": "float", "low": 1.0, "high": 4.0}})
    trainer = make_trainer(training_args, model_args, tokenized, tokenizer, hp_space=space.suggest,
                           data_args=data_args)  # fmt: skip
    trainer.call_model_init(optuna.trial.FixedTrial({"source_temperature": 4.0}))
    tempered = load_splits(type(data_args)(**{**vars(data_args), "source_temperature": 4.0}))
    assert trainer.train_dataset["source"] == tempered["train"]["source"] != tokenized["train"]["source"]
    assert trainer.train_dataset["label"] == tempered["train"]["label"]

    choices = {"source_temperature": {"type": "categorical", "choices": [1.0, 4.0]}}
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({"space": choices}))
    search = [*mixed, "--search", "--n_trials", "2", "--search_space", str(tmp_path / "space.yaml"),
              "--max_steps", "2", *EVERY_STEP]  # fmt: skip
    assert train.main(search) == 0
    best = json.loads((tmp_path / "out" / "search" / "best_trial.json").read_text())["best_params"]
    saved = yaml.safe_load((tmp_path / "out" / "run_config.yaml").read_text())
    assert saved["source_temperature"] == best["source_temperature"]
    assert train.main([*search, "--source_temperature", "2"]) == 2  # searched and fixed at once: refused


def test_a_search_space_with_an_unknown_option_is_a_one_line_error(train_args, tmp_path, capsys):
    (tmp_path / "space.yaml").write_text(yaml.safe_dump({"space": {"colour": {"type": "float", "low": 0, "high": 1}}}))
    assert train.main([*train_args, "--search", "--search_space", str(tmp_path / "space.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: ") and "['colour'] are not options a trial can set" in err


def _space():
    return SearchSpace(params={"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}})


def test_a_study_keeps_one_total_of_trials(tmp_path):
    """A worker with another --n_trials than the study's used to run the study past the coordinator's total."""
    from types import SimpleNamespace

    from hatespeech.training.study import SearchError, open_study

    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    args = SimpleNamespace(study_name="s", n_trials=2, search_space="space.yaml", search_only=False, grace_period=180)
    study = open_study(storage, args, _space(), optuna.samplers.RandomSampler(seed=0))
    assert study.user_attrs["n_trials"] == 2
    running = study.ask()  # a worker is in the middle of a trial
    with pytest.raises(SearchError, match="holds a total of 2 trials; this run asks for 5"):
        open_study(storage, SimpleNamespace(**{**vars(args), "n_trials": 5}), _space(), None)
    study.tell(running, 0.5)
    with pytest.raises(SearchError, match="holds a total of 2 trials"):  # an extra worker never moves it
        open_study(storage, SimpleNamespace(**{**vars(args), "n_trials": 3, "search_only": True}), _space(), None)
    # Idle: a later coordinator may extend the study (resuming a finished search), never shrink it.
    assert open_study(storage, SimpleNamespace(**{**vars(args), "n_trials": 3}), _space(), None).user_attrs[
        "n_trials"] == 3  # fmt: skip
    with pytest.raises(SearchError, match="holds a total of 3 trials"):
        open_study(storage, SimpleNamespace(**{**vars(args), "n_trials": 2}), _space(), None)


def test_a_retried_trial_records_the_worker_that_runs_it_and_workers_sample_differently(tmp_path):
    from hatespeech.training.study import sampler_seed, within_budget

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", direction="maximize")
    trial = study.ask()
    trial.set_user_attr("worker", "host:111")  # as Optuna's retry copies it from the dead worker's trial
    within_budget(_space().suggest, 5, "host:222")(trial)
    assert study.trials[0].user_attrs["worker"] == "host:222"
    seeds = {sampler_seed(42, "s", w) for w in ("host:1", "host:2", "other:1")} | {sampler_seed(42, "t", "host:1")}
    assert len(seeds) == 4 and sampler_seed(42, "s", "host:1") == sampler_seed(42, "s", "host:1")
    first = [_space().suggest(optuna.create_study(sampler=_space().make_sampler(s)).ask()) for s in seeds]
    assert len({params["learning_rate"] for params in first}) == 4  # no two workers start with the same trial
