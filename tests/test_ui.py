"""The Gradio UI: through gradio_client and through a real browser (Debian chromium + playwright)."""

import json
import os
import shutil
from pathlib import Path

import pytest
from serving_fixtures import serve

import app as app_module

ARTIFACTS = Path(__file__).resolve().parents[1] / "outputs" / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip


@pytest.fixture(scope="module")
def base_url(trained_model_dir):
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        yield url


def test_model_tab_shows_recorded_scores_and_test_plots(trained_model_dir):
    from hatespeech.ui import model_report

    markdown, plots = model_report(str(trained_model_dir), None)
    test_f1 = json.loads((trained_model_dir / "eval_results.json").read_text())["test"]["macro_f1"]
    assert f"| test | {test_f1:.4f} |" in markdown
    assert [Path(p).name for p in plots] == ["test_confusion_matrix.png", "test_precision_recall.png",
                                             "test_reliability.png"]  # fmt: skip


def test_gradio_client_predict_endpoint(base_url):
    from gradio_client import Client

    result = Client(base_url, verbose=False).predict("@user go back invaders", api_name="/predict")
    assert result["label"] in {"hate", "not-hate"}
    confidences = {c["label"]: c["confidence"] for c in result["confidences"]}
    assert set(confidences) == {"hate", "not-hate"}
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_browser_classifies_a_tweet_and_a_file(base_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tweets = tmp_path / "tweets.txt"
    tweets.write_text("nice sunny day\n@user deport the vermin\n")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base_url, wait_until="networkidle")
        page.locator("#tweet textarea").fill("@user they should all go back")
        page.locator("#classify").click()
        prediction = page.locator("#prediction")
        expect(prediction).to_contain_text("%", timeout=30_000)  # confidences are shown as percentages
        assert "hate" in prediction.inner_text()
        page.screenshot(path=str(ARTIFACTS / "ui_prediction.png"), full_page=True)

        page.get_by_role("tab", name="Batch").click()
        page.locator("input[type=file]").first.set_input_files(str(tweets))
        page.locator("#classify-file").click()
        expect(page.locator("#batch-table")).to_contain_text("deport the vermin", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "ui_batch.png"), full_page=True)
        browser.close()
