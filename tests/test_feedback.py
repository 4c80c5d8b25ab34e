"""Users' feedback: what a record holds (and never holds), bounds, rate limit, REST and demo, and feedback read
back as a training source with majority labels."""

import json

import httpx
import pytest
from conftest import write_sources
from serving_fixtures import serve

import app as app_module
from hatespeech.feedback import (
    FeedbackRecord,
    FeedbackRefused,
    FeedbackStore,
    RateLimiter,
    majority_labels,
    read_records,
)
from hatespeech.tweets import TweetError, check_tweet

FIELDS = {"text", "label", "predicted_label", "predicted_probability", "model_id", "model_revision", "time_utc"}


def entry(text: str, label: str = "hate") -> FeedbackRecord:
    return FeedbackRecord(text, label, "not-hate", 0.9, "local:m", None, "2026-12-02T00:00:00+00:00")


def test_the_store_folds_duplicates_rotates_files_and_refuses_when_full(tmp_path):
    store = FeedbackStore(tmp_path, max_file_bytes=600, max_files=2)
    assert store.add(entry("a tweet")) and not store.add(entry("a tweet"))  # the same text and label once
    assert store.add(entry("a tweet", "not-hate"))  # another label for it is a new record
    assert FeedbackStore(tmp_path).seen == store.seen  # duplicates are known across restarts
    with pytest.raises(FeedbackRefused, match="full") as refused:
        for i in range(20):
            store.add(entry(f"tweet {i}"))
    assert refused.value.status == 507
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["feedback-00000.jsonl", "feedback-00001.jsonl"]
    assert all(f.stat().st_size <= 600 for f in files)


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
    assert {p.name for p in folder.iterdir()} == {"feedback-00000.jsonl"}  # nothing written elsewhere


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
