"""Experiment tracking against a real MLflow server on loopback (SQLite backend, started here): a training run and
a 3-trial search logged with --report_to mlflow, read back through the MLflow client."""

import json
from pathlib import Path

import pytest

import train

mlflow = pytest.importorskip("mlflow", reason="the tracking extra is not installed (pip install -e .[tracking])")

EVERY_STEP = ["--eval_strategy", "steps", "--eval_steps", "1", "--save_strategy", "steps", "--save_steps", "1"]


@pytest.fixture()
def sources_dir(tmp_path):
    from conftest import write_sources

    write_sources(tmp_path / "sources", "no leak")
    return tmp_path / "sources"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    from helpers.mlflow_server import MlflowServer

    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture()
def tracked(tracking_server, monkeypatch, request):
    """MLflow's own settings pointed at the test server, one experiment per test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.url)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", request.node.name)
    monkeypatch.setenv("MLFLOW_TAGS", json.dumps({"candidate": "tiny"}))
    mlflow.set_tracking_uri(tracking_server.url)
    yield mlflow.MlflowClient(tracking_server.url)
    while mlflow.active_run():  # a failed test must not leave a run open for the next
        mlflow.end_run()


def runs_of(client, experiment: str):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} on the server"
    return client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])


def test_a_training_run_logs_parameters_curves_results_panel_and_files(
    tracked, train_args, sources_dir, tmp_path, request
):
    args = [*train_args, "--report_to", "mlflow", "--sources", "davidson", "--sources_dir", str(sources_dir)]
    assert train.main(args) == 0
    (run,) = runs_of(tracked, request.node.name)
    assert run.info.status == "FINISHED" and run.info.run_name == "out"
    assert run.data.tags["candidate"] == "tiny"  # MLFLOW_TAGS
    assert run.data.params["learning_rate"] == "0.001" and run.data.params["data.sources"] == "davidson"
    history = tracked.get_metric_history(run.info.run_id, "eval_macro_f1")
    assert len(history) == 2  # one evaluation per epoch
    results = json.loads((tmp_path / "out" / "eval_results.json").read_text())
    metrics = run.data.metrics
    assert metrics["final_test_macro_f1"] == pytest.approx(results["test"]["macro_f1"])
    assert metrics["final_validation_macro_f1"] == pytest.approx(results["validation"]["macro_f1"])
    for name in ("panel_validation_mean_macro_f1", "panel_hatecheck_overall", "panel_hatecheck_non_hateful",
                 "panel_validation_intervention_non_hateful_accuracy"):  # fmt: skip
        assert 0 <= metrics[name] <= 1, name
    files = {a.path for a in tracked.list_artifacts(run.info.run_id)}
    assert {"panel.json", "README.md", "run_config.yaml", "eval_results.json", "plots"} <= files
    plots = {a.path for a in tracked.list_artifacts(run.info.run_id, "plots")}
    assert "plots/hatecheck_functionalities.png" in plots
    panel = tracked.download_artifacts(run.info.run_id, "panel.json")
    assert json.loads(open(panel).read())["validation_mean_macro_f1"] == pytest.approx(
        metrics["panel_validation_mean_macro_f1"])  # fmt: skip


@pytest.fixture(scope="module")
def searched(tracking_server, tiny_model_dir, tmp_path_factory):
    """A 3-trial search logged to the test server (once for the module): the client, its runs, the search summary."""
    from conftest import write_tweeteval_dir

    work = tmp_path_factory.mktemp("search")
    write_tweeteval_dir(work / "data")
    environment = {"MLFLOW_TRACKING_URI": tracking_server.url, "MLFLOW_EXPERIMENT_NAME": "search"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        mlflow.set_tracking_uri(tracking_server.url)
        args = ["--model_name_or_path", str(tiny_model_dir), "--data_dir", str(work / "data"), "--output_dir",
                str(work / "out"), "--learning_rate", "1e-3", "--use_cpu", "--disable_tqdm", "true",
                "--report_to", "mlflow", "--search", "--storage", f"sqlite:///{work / 'study.db'}", "--study_name",
                "tiny", "--n_trials", "3", "--max_steps", "2", *EVERY_STEP]  # fmt: skip
        assert train.main(args) == 0
    client = mlflow.MlflowClient(tracking_server.url)
    summary = json.loads((work / "out" / "search" / "best_trial.json").read_text())
    return client, runs_of(client, "search"), summary


def test_a_search_logs_each_trial_as_a_nested_run_and_tags_the_best(searched):
    client, runs, summary = searched
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    trials = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(run.info.run_name for run in trials) == ["trial-0", "trial-1", "trial-2"]
    for trial in trials:
        assert set(trial.data.params) == set(summary["best_params"])  # each trial's sampled hyperparameters
        assert 0 <= trial.data.metrics["objective_final"] <= 1 and trial.data.tags["optuna.state"] == "COMPLETE"
        assert len(client.get_metric_history(trial.info.run_id, "objective")) == 2  # each evaluation
        assert trial.info.end_time - trial.info.start_time >= 100  # the trial's own training time, in ms
    (best,) = [trial for trial in trials if trial.data.tags.get("best_trial") == "true"]
    assert best.info.run_name == f"trial-{summary['best_trial']}"
    assert best.data.metrics["objective_final"] == pytest.approx(summary["best_value"])
    assert parent.data.tags["best_trial_run"] == best.info.run_id
    # The parent holds the final run's curve alone, not the trials' epochs mixed in.
    assert len(client.get_metric_history(parent.info.run_id, "eval_macro_f1")) == 2
    assert float(parent.data.params["learning_rate"]) == pytest.approx(summary["best_params"]["learning_rate"])


@pytest.mark.slow
def test_the_mlflow_ui_compares_the_trials_in_a_real_browser(searched, tracking_server):
    from helpers.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import expect, sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make browser)")
    _, runs, _ = searched
    trials = sorted((run for run in runs if run.info.run_name.startswith("trial-")), key=lambda r: r.info.run_name)
    ids = json.dumps([run.info.run_id for run in trials]).replace(" ", "")
    url = f"{tracking_server.url}/#/compare-runs?runs={ids}&experiments={json.dumps([trials[0].info.experiment_id])}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        for run in trials:  # each trial's name, its learning rate and its objective on one page
            expect(page.get_by_text(run.info.run_name).first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("learning_rate").first).to_be_visible()
        expect(page.get_by_text("objective_final").first).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "mlflow_compare.png"), full_page=True)
        browser.close()


def test_report_to_mlflow_without_the_package_says_how_to_install_it(train_args, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "mlflow", None)  # as if the extra were not installed
    assert train.main([*train_args, "--report_to", "mlflow"]) == 2
    assert "--report_to mlflow needs the mlflow package: pip install -e .[tracking]" in capsys.readouterr().err


def test_tags_that_are_not_a_json_object_stop_before_any_run(train_args, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TAGS", "candidate=twelve")
    assert train.main([*train_args, "--report_to", "mlflow"]) == 2
    assert "MLFLOW_TAGS must be a JSON object of tags" in capsys.readouterr().err
