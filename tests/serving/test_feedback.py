"""Users' feedback: what a record holds (and never holds), bounds, rate limit, REST and demo, and feedback read
back as a training source with majority labels."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import write_sources, write_tweeteval_dir
from helpers.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from helpers.hub_client import TOKEN, client_env, run_client, wait_for_health
from helpers.hub_double import HubDouble
from helpers.serving_fixtures import free_port, serve

import app as app_module
from hatespeech.data.feedback import majority_labels, read_records
from hatespeech.serving.feedback_store import (
    FeedbackRecord,
    FeedbackRefused,
    FeedbackStore,
    FeedbackStoreError,
    RateLimiter,
)
from hatespeech.tweets import TweetError, check_tweet

REPO_ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"text", "label", "predicted_label", "predicted_probability", "model_id", "model_revision", "time_utc"}


def entry(text: str, label: str = "hate") -> FeedbackRecord:
    return FeedbackRecord(text, label, "not-hate", 0.9, "local:m", None, "2026-12-02T00:00:00+00:00")


def test_the_store_folds_duplicates_rotates_files_and_refuses_when_full(tmp_path):
    store = FeedbackStore(tmp_path, max_file_bytes=600, max_files=2)
    assert store.add(entry("a tweet")) and not store.add(entry("a tweet"))  # the same text and label once
    assert store.add(entry("a tweet", "not-hate"))  # another label for it is a new record
    store.close()
    store = FeedbackStore(tmp_path, max_file_bytes=600, max_files=2)
    assert not store.add(entry("a tweet"))  # duplicates are known across restarts
    with pytest.raises(FeedbackRefused, match="full") as refused:
        for i in range(20):
            store.add(entry(f"tweet {i}"))
    assert refused.value.status == 507
    files = sorted(tmp_path.glob("feedback-*"))
    assert [f.name for f in files] == ["feedback-00000.jsonl", "feedback-00001.jsonl"]
    assert all(f.stat().st_size <= 600 for f in files)


def test_a_line_cut_by_a_crash_never_stops_the_server_or_spoils_the_next_record(tmp_path):
    store = FeedbackStore(tmp_path)
    assert store.add(entry("first tweet"))
    path = tmp_path / "feedback-00000.jsonl"
    path.write_bytes(path.read_bytes() + b'{"text": "cut sho')  # the server died mid-write
    store.close()
    restarted = FeedbackStore(tmp_path)  # starts, knows the intact record
    assert not restarted.add(entry("first tweet")) and restarted.add(entry("second tweet"))
    lines = path.read_text().splitlines()
    assert lines[1] == '{"text": "cut sho' and json.loads(lines[2])["text"] == "second tweet"
    with pytest.raises(ValueError, match="feedback-00000.jsonl:2"):  # training names the damaged line
        read_records(tmp_path)


def test_feedback_is_one_record_per_text_as_the_model_reads_it_and_votes_so(tmp_path):
    """Finding 3: handles, links and spacing are normalised before the model reads a text, so the store folds
    and the vote counts such variants as one text."""
    store = FeedbackStore(tmp_path)
    assert store.add(entry("go home @bob", "hate")) and not store.add(entry("go  home @alice", "hate"))
    assert store.add(entry("go home @carol", "not-hate"))
    labels, counts = majority_labels(read_records(tmp_path))
    assert labels == {} and counts["ties_dropped"] == 1  # one text, one vote each way: a tie, never both labels
    store.add(entry("go home @dave https://t.co/x", "hate"))
    labels, _ = majority_labels(read_records(tmp_path) + [{"text": "go home @erin", "label": "hate"}])
    assert labels == {"go home @user": 1, "go home @user http": 1}


def test_a_text_with_unicode_line_separators_stays_one_record_across_restarts(tmp_path):
    """Finding 4: U+2028 and U+0085 inside a text are not line ends of the store's files."""
    store = FeedbackStore(tmp_path)
    assert store.add(entry("first\u2028line\x85next"))
    store.close()
    restarted = FeedbackStore(tmp_path)
    assert not restarted.add(entry("first\u2028line\x85next"))
    assert [row["text"] for row in read_records(tmp_path)] == ["first\u2028line\x85next"]


def test_a_second_writer_on_one_folder_is_refused_in_one_line(tmp_path):
    """Finding 5: two app processes on one FEEDBACK_DIR stored each shared text twice; the second one now stops."""
    code = ("import sys\nfrom hatespeech.serving.feedback_store import FeedbackStore, FeedbackStoreError\n"
            "try:\n    FeedbackStore(sys.argv[1])\nexcept FeedbackStoreError as err:\n    print(err)\n")  # fmt: skip
    store = FeedbackStore(tmp_path)
    other = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})  # fmt: skip
    assert "is in use by another app process: one writer per folder" in other.stdout
    store.close()  # the folder is free again
    FeedbackStore(tmp_path).close()


def test_links_in_the_feedback_folder_are_never_written_through(tmp_path):
    """Finding 6: a planted symlink named like a feedback file would have received every record."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("")
    folder = tmp_path / "feedback"
    folder.mkdir()
    (folder / "feedback-00000.jsonl").symlink_to(target)
    with pytest.raises(FeedbackStoreError, match="is not a plain file"):
        FeedbackStore(folder)
    store = FeedbackStore(tmp_path / "fresh")
    (tmp_path / "fresh" / "feedback-00000.jsonl").symlink_to(target)  # planted while the server runs
    with pytest.raises(FeedbackRefused) as refused:
        store.add(entry("a tweet"))
    assert refused.value.status == 503 and target.read_text() == ""


def test_new_files_never_land_on_a_full_one_after_old_files_are_removed(tmp_path):
    """Finding 12: the next file's number came from counting files; with 00000 removed it was 00001 again."""
    store = FeedbackStore(tmp_path, max_file_bytes=400, max_files=3)
    for i in range(6):
        store.add(entry(f"tweet number {i}"))
    names = sorted(p.name for p in tmp_path.glob("feedback-*"))
    (tmp_path / names[0]).unlink()  # the operator moves the oldest file away
    for i in range(6, 12):
        try:
            store.add(entry(f"tweet number {i}"))
        except FeedbackRefused:
            break
    assert all(p.stat().st_size <= 400 for p in tmp_path.glob("feedback-*"))


@pytest.mark.parametrize("problem", ["a file", "a folder named like a feedback file", "read-only"])
def test_an_unusable_feedback_folder_stops_the_app_in_one_line(tmp_path, problem, trained_model_dir):
    """Finding 16: FEEDBACK_DIR naming a file, holding a folder named like a feedback file, or read-only."""
    folder = tmp_path / "feedback"
    if problem == "a file":
        folder.write_text("")
    elif problem == "a folder named like a feedback file":
        (folder / "feedback-00000.jsonl").mkdir(parents=True)
    else:
        folder.mkdir()
        folder.chmod(0o500)
        if os.access(folder, os.W_OK):  # root writes anyway (CI runs as root): the refusal the kernel would give
            folder.chmod(0o700)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(os, "open", lambda *args, **kwargs: (_ for _ in ()).throw(PermissionError(13, "denied")))
                with pytest.raises(FeedbackStoreError, match=r"^FEEDBACK_DIR=.*cannot be used as the feedback folder"):
                    FeedbackStore(folder)
            return
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FEEDBACK_DIR": str(folder), "MODEL_ID": str(trained_model_dir),
           "PORT": "1"}  # fmt: skip
    result = subprocess.run([sys.executable, str(REPO_ROOT / "app.py")], capture_output=True, text=True, timeout=120,
                            env=env)  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: FEEDBACK_DIR")


def test_the_rate_limit_is_per_client_and_per_minute():
    now = [0.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a") and limiter.allow("b")
    now[0] = 61.0
    assert limiter.allow("a")
    assert set(limiter.events) == {"a"}  # idle clients are forgotten


def test_one_label_per_text_by_majority_ties_dropped():
    votes = [("x", "hate"), ("x", "hate"), ("x", "not-hate"), ("y", "hate"), ("y", "not-hate"), ("z", "not-hate")]
    rows = [{"text": text, "label": label} for text, label in votes]
    labels, counts = majority_labels(rows)
    assert labels == {"x": 1, "z": 0}
    assert counts == {"records": 6, "texts": 3, "kept": 2, "ties_dropped": 1}


@pytest.fixture()
def feedback_server(trained_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDBACK_DIR", str(tmp_path / "feedback"))
    monkeypatch.delenv("FEEDBACK_REPO", raising=False)
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        yield url, tmp_path / "feedback"


def test_rest_feedback_stores_the_servers_own_prediction_and_nothing_about_the_client(feedback_server):
    url, folder = feedback_server
    text = "@user go back invaders"
    client_headers = {"X-Forwarded-For": "203.0.113.9", "Cookie": "session=secret"}
    response = httpx.post(
        f"{url}/v1/feedback", json={"text": text, "label": "hate"}, headers=client_headers, timeout=60
    )
    assert response.status_code == 200 and response.json() == {"stored": True}
    again = httpx.post(f"{url}/v1/feedback", json={"text": text, "label": "hate"}, timeout=60)
    assert again.json() == {"stored": False}
    (line,) = (folder / "feedback-00000.jsonl").read_text().splitlines()
    stored = json.loads(line)
    assert set(stored) == FIELDS and stored["text"] == text and stored["label"] == "hate"
    predicted = httpx.post(f"{url}/v1/classify", json={"texts": [text]}, timeout=60).json()["predictions"][0]
    assert stored["predicted_label"] == predicted["label"]
    assert stored["predicted_probability"] == pytest.approx(predicted["score"], abs=1e-3)
    assert stored["model_id"].startswith("local:") and str(folder.parent) not in line
    assert "203.0.113.9" not in line and "secret" not in line and "127.0.0.1" not in line


def test_bad_feedback_gets_the_classification_answers_and_the_rate_limit_holds(feedback_server):
    url, folder = feedback_server
    with pytest.raises(TweetError) as expected:
        check_tweet("", "text")
    empty = httpx.post(f"{url}/v1/feedback", json={"text": "", "label": "hate"}, timeout=60)
    assert empty.status_code == 422 and empty.json()["detail"] == str(expected.value)
    assert httpx.post(f"{url}/v1/feedback", json={"text": "ok", "label": "offensive"}, timeout=60).status_code == 422
    assert httpx.post(f"{url}/v1/feedback", json={"text": "../../x", "label": "hate"}, timeout=60).status_code == 200
    answers = [httpx.post(f"{url}/v1/feedback", json={"text": f"tweet {i}", "label": "hate"}, timeout=60).status_code
               for i in range(25)]  # fmt: skip
    assert answers.count(429) >= 5 and set(answers) == {200, 429}
    assert {p.name for p in folder.iterdir()} == {"feedback-00000.jsonl", ".lock"}  # nothing written elsewhere


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
def test_forwarded_addresses_count_only_behind_a_trusted_proxy(trained_model_dir, tmp_path, monkeypatch, trusted):
    """Finding 7: uvicorn trusted X-Forwarded-For from 127.0.0.1, so made-up addresses escaped the rate limit."""
    monkeypatch.setenv("FEEDBACK_DIR", str(tmp_path / "feedback"))
    monkeypatch.setenv("TRUSTED_PROXIES", trusted)
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        answers = [httpx.post(f"{url}/v1/feedback", json={"text": f"tweet {i}", "label": "hate"}, timeout=60,
                              headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                   for i in range(24)]  # fmt: skip
    assert answers.count(429) == (0 if trusted else 4)


def test_without_feedback_dir_the_route_says_it_is_off(trained_model_dir, monkeypatch):
    monkeypatch.delenv("FEEDBACK_DIR", raising=False)
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        response = httpx.post(f"{url}/v1/feedback", json={"text": "hello", "label": "hate"}, timeout=60)
    assert response.status_code == 404 and "FEEDBACK_DIR" in response.json()["detail"]


def test_demo_buttons_store_the_models_label_or_the_other_one(feedback_server):
    from gradio_client import Client

    url, folder = feedback_server
    client = Client(url, verbose=False)
    predicted = client.predict("go back invaders", api_name="/predict")["label"]
    assert "stored" in client.predict("go back invaders", api_name="/feedback_right")
    assert "stored" in client.predict("go back invaders", api_name="/feedback_wrong")
    labels = [row["label"] for row in read_records(folder)]
    assert labels == [predicted, {"hate": "not-hate", "not-hate": "hate"}[predicted]]


def test_feedback_trains_only_when_named_and_the_card_counts_it(train_args, tmp_path):
    import train

    folder = tmp_path / "feedback"
    store = FeedbackStore(folder)
    for i in range(10):  # 10 texts with a clear majority, one tie
        store.add(entry(f"feedback tweet {i} go back", "hate" if i % 2 else "not-hate"))
    store.add(entry("contested tweet", "hate"))
    store.add(entry("contested tweet", "not-hate"))
    sources = tmp_path / "sources"
    write_sources(sources, "no leak")
    args = [*train_args, "--max_steps", "2", "--sources", f"feedback:{folder}", "--sources_dir", str(sources)]
    assert train.main(args) == 0
    results = json.loads((tmp_path / "out" / "train_results.json").read_text())
    assert results["feedback"] == {"records": 12, "texts": 11, "kept": 10, "ties_dropped": 1,
                                   "location": str(folder), "revision": None}  # fmt: skip
    card = (tmp_path / "out" / "README.md").read_text()
    assert "12 records on 11 distinct texts; 10 kept with their majority label, 1 ties dropped" in card
    # Finding 13: the server's folder is nobody's business, and users' corrections are no public data set.
    assert str(folder) not in card and "not a public data set" in card


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (.ci/run installs it)")
def test_a_click_becomes_a_hub_dataset_row_that_trains_a_model(trained_model_dir, tiny_model_dir, tmp_path):
    """The loop: a click in the real browser -> a JSON line -> a Hub dataset (the stand-in) -> train.py on it."""
    from playwright.sync_api import expect, sync_playwright

    hub = HubDouble(token=TOKEN).start()
    try:
        port, folder = free_port(), tmp_path / "feedback"
        env = client_env(hub, tmp_path / "home")
        env.update(MODEL_ID=str(trained_model_dir), PORT=str(port), HOST="127.0.0.1", FEEDBACK_DIR=str(folder),
                   FEEDBACK_REPO="tester/feedback", FEEDBACK_EVERY_MINUTES="0.02")  # fmt: skip
        server = subprocess.Popen([sys.executable, str(REPO_ROOT / "app.py")], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1100, "height": 1000})
                page.goto(url, wait_until="networkidle")
                expect(page.locator("#feedback-note")).to_contain_text("Feedback stores the text you typed")
                page.locator("#tweet textarea").fill("go back invaders")
                page.locator("#classify").click()
                expect(page.locator("#prediction")).to_contain_text("%", timeout=30_000)
                page.locator("#feedback-wrong").click()
                expect(page.locator("#feedback-status")).to_contain_text("Thank you: stored.", timeout=30_000)
                page.locator("#explain").click()
                expect(page.locator("#explanation")).to_contain_text("invaders", timeout=30_000)
                page.screenshot(path=str(ARTIFACTS / "ui_feedback_and_explanation.png"), full_page=True)
                page.get_by_role("tab", name="Model").click()  # the drift view: served window against validation
                page.locator("#show-drift").click()
                expect(page.locator("#drift-text")).to_contain_text("PSI probability", timeout=30_000)
                expect(page.locator("#drift-plot img, #drift-plot svg, #drift-plot canvas").first).to_be_visible()
                page.screenshot(path=str(ARTIFACTS / "ui_drift.png"), full_page=True)
                browser.close()
            (stored,) = read_records(folder)
            deadline = time.monotonic() + 60  # the scheduler pushes every 1.2 s here
            while not any(name.endswith(".jsonl") for name in hub.files("tester/feedback", repo_type="dataset")):
                assert time.monotonic() < deadline, "the feedback never reached the Hub dataset"
                time.sleep(0.5)
        finally:
            server.terminate()
            server.wait(timeout=30)
        pushed = hub.files("tester/feedback", repo_type="dataset")["feedback-00000.jsonl"].decode()
        assert [json.loads(line) for line in pushed.splitlines()] == [stored] and stored["text"] == "go back invaders"
        # Train on the Hub dataset by its id, as a user with the network would.
        data, sources = tmp_path / "data", tmp_path / "sources"
        write_tweeteval_dir(data)
        write_sources(sources, "no leak")
        args = [str(REPO_ROOT / "train.py"), "--model_name_or_path", str(tiny_model_dir), "--data_dir", str(data),
                "--output_dir", str(tmp_path / "out"), "--max_steps", "2", "--report_to", "none", "--use_cpu",
                "--sources", "feedback:tester/feedback", "--sources_dir", str(sources)]  # fmt: skip
        trained = run_client(args, client_env(hub, tmp_path / "train-home"), tmp_path)
        assert trained.returncode == 0, trained.stderr[-3000:]
    finally:
        hub.stop()
    summary = json.loads((tmp_path / "out" / "train_results.json").read_text())["feedback"]
    revision = hub.repos[("dataset", "tester/feedback")].refs["main"]
    assert summary == {"records": 1, "texts": 1, "kept": 1, "ties_dropped": 0, "location": "tester/feedback",
                       "revision": revision}  # fmt: skip
    assert (
        f"the Hub dataset `tester/feedback` at revision `{revision}`: 1 records"
        in (tmp_path / "out" / "README.md").read_text()
    )
