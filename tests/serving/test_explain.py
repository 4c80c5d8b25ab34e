"""Word occlusion explanations: the weights, long tweets, and the REST route and demo button on a served model."""

import httpx
import pytest
from helpers.serving_fixtures import serve

import app as app_module
from hatespeech.serving.explain import MAX_UNITS, explain, without, word_units
from hatespeech.tweets import TweetError, check_tweet


def fake_hate(texts: list[str]) -> list[float]:
    """Hate probability 0.2 plus 0.3 per 'vermin', minus 0.1 per 'friends'."""
    return [0.2 + 0.3 * t.split().count("vermin") - 0.1 * t.split().count("friends") for t in texts]


def test_each_word_weighs_what_deleting_it_changes():
    weights = explain("you  vermin are not friends", fake_hate)
    assert [w.word for w in weights] == ["you", "vermin", "are", "not", "friends"]
    assert [round(w.weight, 6) for w in weights] == [0.0, 0.3, 0.0, 0.0, -0.1]
    assert without("you  vermin are", [(5, 11)]) == "you are"


def test_a_long_tweet_is_occluded_in_at_most_max_units_runs():
    text = " ".join(f"w{i}" for i in range(130))
    units = word_units(text)
    assert len(units) <= MAX_UNITS
    assert " ".join(text[a:b] for a, b in units) == text  # every word in exactly one run, in order
    calls = []
    explain(text, lambda texts: calls.append(len(texts)) or [0.5] * len(texts))
    assert calls == [len(units) + 1]  # one batch: the tweet and each run left out


@pytest.fixture(scope="module")
def base_url(trained_model_dir):
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        yield url


def test_rest_explanation_agrees_with_classifying_the_occluded_texts(base_url):
    text = "@user go back invaders you are vermin"
    response = httpx.post(f"{base_url}/v1/explain", json={"text": text}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [w["word"] for w in body["words"]] == text.split()
    # From the outside: the same weights as classifying the tweet and each variant with /v1/classify.
    variants = [text] + [" ".join(text.split()[:i] + text.split()[i + 1 :]) for i in range(len(text.split()))]
    classified = httpx.post(f"{base_url}/v1/classify", json={"texts": variants}, timeout=60).json()["predictions"]
    hate = [p["probabilities"]["hate"] for p in classified]
    assert body["probabilities"]["hate"] == pytest.approx(hate[0], abs=1e-3)
    assert [w["weight"] for w in body["words"]] == pytest.approx([hate[0] - h for h in hate[1:]], abs=2e-3)


@pytest.mark.parametrize("text", ["", " \u200b ", "y" * 1001, "nul\x00byte"], ids=["empty", "invisible", "long", "nul"])
def test_bad_input_to_explain_gets_the_classification_message(base_url, text):
    with pytest.raises(TweetError) as expected:
        check_tweet(text, "text")  # the message /v1/classify gives for texts[i], named after the field
    response = httpx.post(f"{base_url}/v1/explain", json={"text": text}, timeout=60)
    assert response.status_code == 422 and response.json()["detail"] == str(expected.value)


def test_oversized_or_malformed_explain_bodies_are_refused(base_url):
    big = httpx.post(f"{base_url}/v1/explain", content=b'{"text": "' + b"a" * 20_000 + b'"}', timeout=60,
                     headers={"content-type": "application/json"})  # fmt: skip
    assert big.status_code == 413
    assert httpx.post(f"{base_url}/v1/explain", json={"texts": ["a"]}, timeout=60).status_code == 422
    assert httpx.post(f"{base_url}/v1/explain", json={"text": 5}, timeout=60).status_code == 422
    assert httpx.get(f"{base_url}/v1/explain", timeout=60).status_code == 405


def test_the_demo_explain_endpoint_highlights_every_word(base_url):
    from gradio_client import Client

    highlighted = Client(base_url, verbose=False).predict("go back invaders", api_name="/explain")
    words = [(item["token"], item["class_or_confidence"]) for item in highlighted if item["token"].strip()]
    assert [token for token, _ in words] == ["go", "back", "invaders"]
    assert all(isinstance(weight, float) and -1 <= weight <= 1 for _, weight in words)
