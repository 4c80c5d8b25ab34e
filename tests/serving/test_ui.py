"""The Gradio UI: through gradio_client and through a real browser (Debian chromium + playwright)."""

import json
from pathlib import Path

import pytest
from helpers.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from helpers.serving_fixtures import serve

import app as app_module


@pytest.fixture(scope="module")
def base_url(trained_model_dir):
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        yield url


def test_model_tab_shows_recorded_scores_and_test_plots(trained_model_dir):
    from hatespeech.serving.ui import model_report

    markdown, plots = model_report(str(trained_model_dir), None)
    test_f1 = json.loads((trained_model_dir / "eval_results.json").read_text())["test"]["macro_f1"]
    assert f"| test | {test_f1:.4f} |" in markdown
    assert str(trained_model_dir.parent) not in markdown and f"local:{trained_model_dir.name}" in markdown
    assert [Path(p).name for p in plots] == ["test_confusion_matrix.png", "test_precision_recall.png",
                                             "test_reliability.png"]  # fmt: skip


def test_gradio_client_predict_endpoint(base_url):
    from gradio_client import Client

    result = Client(base_url, verbose=False).predict("@user go back invaders", api_name="/predict")
    assert result["label"] in {"hate", "not-hate"}
    confidences = {c["label"]: c["confidence"] for c in result["confidences"]}
    assert set(confidences) == {"hate", "not-hate"}
    assert sum(confidences.values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("text", "message"),
    [("ab\ud800cd", "tweet is not valid UTF-8"), ("\u200b\ufeff", "tweet is empty"), ("x" * 1001, "the limit is 1000")],
)
def test_predict_endpoint_refuses_bad_text_with_the_shared_message(base_url, text, message):
    import httpx

    # Raw HTTP: a lone surrogate travels as a JSON escape, which gradio_client's encoder refuses to send.
    body = json.dumps({"data": [text]}).encode()
    started = httpx.post(
        f"{base_url}/gradio_api/call/predict", content=body, headers={"content-type": "application/json"}
    )
    events = httpx.get(f"{base_url}/gradio_api/call/predict/{started.json()['event_id']}", timeout=60).text
    assert "event: error" in events and message in events


def test_batch_tab_refuses_server_paths_through_raw_http_and_gradio_client(base_url, tmp_path, monkeypatch):
    import httpx
    from gradio_client import Client
    from gradio_client import client as client_module

    secret = tmp_path / "server_secret.txt"
    secret.write_text("SENTINEL-SERVER-LINE\n")
    named = {"path": str(secret), "meta": {"_type": "gradio.FileData"}}
    started = httpx.post(f"{base_url}/gradio_api/call/predict_file", json={"data": [named, "text"]})
    events = httpx.get(f"{base_url}/gradio_api/call/predict_file/{started.json()['event_id']}", timeout=60).text
    assert "event: error" in events and "SENTINEL" not in events

    # gradio_client uploads local files itself; a client on another machine can only name the path.
    monkeypatch.setattr(client_module.Endpoint, "_upload_file", lambda self, f, data_index: f)
    with pytest.raises(Exception) as refused:
        Client(base_url, verbose=False).predict(named, "text", api_name="/predict_file")
    assert "SENTINEL" not in str(refused.value)


def test_batch_tab_lists_bad_lines_deletes_the_upload_and_writes_a_safe_csv(base_url, tmp_path):
    import csv

    from gradio_client import Client, handle_file

    source = tmp_path / "mixed.csv"
    source.write_bytes(b'id,text\n1,"=HYPERLINK(""http://x"")"\n2,bad\x00nul\n3,nice day\n')
    before = _metric(base_url, "hatespeech_batch_size_sum")
    client = Client(base_url, verbose=False)
    table, download = client.predict(handle_file(str(source)), "text", api_name="/predict_file")
    rows = {row[0]: dict(zip(table["headers"], row, strict=True)) for row in table["data"]}
    assert rows[3]["error"] == "line 3 contains a NUL byte" and rows[3]["label"] == ""
    assert rows[4]["label"] in {"hate", "not-hate"} and rows[4]["error"] == ""
    with open(download, encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert written[0]["tweet"] == '\'=HYPERLINK("http://x")'  # a spreadsheet shows it as text
    assert _metric(base_url, "hatespeech_batch_size_sum") - before == 2  # UI traffic counted with REST's
    from gradio.utils import get_upload_folder

    assert not list(Path(get_upload_folder()).rglob("mixed.csv")), "the upload is deleted once read"


def test_batch_tab_enforces_the_upload_limits(base_url, tmp_path):
    import httpx
    from gradio_client import Client, handle_file

    from hatespeech.tweets import MAX_FILE_BYTES

    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 999 + b"\n" + b"y" * (MAX_FILE_BYTES))
    upload = httpx.post(f"{base_url}/gradio_api/upload", files={"files": ("big.txt", big.read_bytes())})
    assert upload.status_code == 413
    long_line = tmp_path / "long.txt"
    long_line.write_text("ok\n" + "z" * 1001 + "\n")
    table, _ = Client(base_url, verbose=False).predict(handle_file(str(long_line)), "text", api_name="/predict_file")
    assert table["data"][1][-1] == "line 2 is 1001 characters long; the limit is 1000"


def _metric(base_url: str, name: str) -> float:
    import httpx

    text = httpx.get(f"{base_url}/metrics").text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_browser_classifies_a_tweet_and_a_file(base_url, tmp_path):
    from gradio_client import Client
    from playwright.sync_api import expect, sync_playwright

    tweet = "@user they should all go back"
    served = Client(base_url, verbose=False).predict(tweet, api_name="/predict")["label"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tweets = tmp_path / "tweets.txt"
    tweets.write_text("nice sunny day\n@user deport the vermin\n")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base_url, wait_until="networkidle")
        page.locator("#tweet textarea").fill(tweet)
        page.locator("#classify").click()
        prediction = page.locator("#prediction")
        expect(prediction).to_contain_text("%", timeout=30_000)  # confidences are shown as percentages
        shown = [line.strip() for line in prediction.inner_text().splitlines() if line.strip()]
        assert served in ("hate", "not-hate") and served in shown  # the heading is the API's label, whole
        page.screenshot(path=str(ARTIFACTS / "ui_prediction.png"), full_page=True)

        page.get_by_role("tab", name="Batch").click()
        page.locator("input[type=file]").first.set_input_files(str(tweets))
        page.locator("#classify-file").click()
        expect(page.locator("#batch-table")).to_contain_text("deport the vermin", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "ui_batch.png"), full_page=True)
        browser.close()
