"""The REST API through a real uvicorn server on loopback, with every kind of bad input."""

import asyncio
import socket
from pathlib import Path

import httpx
import pytest
from helpers.serving_fixtures import serve

import app as app_module
from hatespeech.serving.api import MAX_BATCH_TEXTS
from hatespeech.tweets import MAX_FILE_BYTES, MAX_TWEET_CHARS


@pytest.fixture(scope="module")
def base_url(trained_model_dir):
    with serve(app_module.create_app(str(trained_model_dir))) as url:
        yield url


def test_one_tweet_endpoint(base_url):
    response = httpx.post(f"{base_url}/predict_labels_one_tweet", params={"tweet": "@bob go back invaders"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tweet"] == "@bob go back invaders"
    assert body["label"] in {"hate", "not-hate"}
    assert body["probabilities"]["hate"] + body["probabilities"]["not-hate"] == pytest.approx(1.0, abs=1e-5)
    assert body["score"] == pytest.approx(body["probabilities"][body["label"]])


def test_file_endpoint_keeps_order_and_skips_blank_lines(base_url):
    content = "nice sunny day\n\n@user deport the vermin\nlove you 😎\n".encode()
    response = httpx.post(f"{base_url}/predict_labels_tweets_file", files={"file": ("t.txt", content, "text/plain")})
    assert response.status_code == 200, response.text
    assert [row["tweet"] for row in response.json()] == ["nice sunny day", "@user deport the vermin", "love you 😎"]


def test_json_batch_endpoint(base_url):
    texts = ["مرحبا بالجميع", "#" + "LongHashtag" * 20, "plain tweet"]
    response = httpx.post(f"{base_url}/v1/classify", json={"texts": texts})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == 3 and all(p["label"] in {"hate", "not-hate"} for p in predictions)


def test_health_and_openapi(base_url, trained_model_dir):
    assert httpx.get(f"{base_url}/health").json() == {
        "model_id": f"local:{trained_model_dir.name}",  # no server path
        "revision": None,
        "ready": True,
    }
    paths = httpx.get(f"{base_url}/openapi.json").json()["paths"]
    assert {"/predict_labels_one_tweet", "/predict_labels_tweets_file", "/v1/classify", "/health"} <= set(paths)
    assert httpx.get(f"{base_url}/docs").status_code == 200


BAD_INPUTS = [
    ("empty tweet", "one", {"tweet": ""}, 422, "is empty"),
    ("whitespace tweet", "one", {"tweet": "   \t "}, 422, "is empty"),
    ("tweet over the limit", "one", {"tweet": "x" * (MAX_TWEET_CHARS + 1)}, 422, "the limit is"),
    ("NUL byte in tweet", "one", {"tweet": "hi\x00there"}, 422, "NUL byte"),
    ("missing tweet parameter", "one", {}, 422, "tweet"),
    ("invalid UTF-8 file", "file", b"ok line\n\xff\xfe bad\n", 422, "line 2 is not valid UTF-8"),
    ("NUL byte in file", "file", b"ok\nbad\x00line\n", 422, "line 2 contains a NUL byte"),
    ("empty file", "file", b"\n \n", 422, "holds no tweets"),
    ("file over the size limit", "file", b"a\n" * (MAX_FILE_BYTES // 2 + 1), 413, "the limit is"),
    ("line over the limit in file", "file", b"ok\n" + b"y" * (MAX_TWEET_CHARS + 1), 422, "line 2 is"),
    ("texts not a list", "json", {"texts": "just a string"}, 422, "list"),
    ("texts of wrong type", "json", {"texts": [1, 2]}, 422, "string"),
    ("body not JSON", "raw", b"{not json", 422, "JSON"),
    ("empty texts", "json", {"texts": []}, 422, "texts is empty"),
    ("too many texts", "json", {"texts": ["hi"] * (MAX_BATCH_TEXTS + 1)}, 422, "the limit is"),
    ("empty text in batch", "json", {"texts": ["fine", " "]}, 422, "texts[1] is empty"),
    ("NaN in batch", "raw", b'{"texts": [NaN]}', 422, "string"),
    ("Infinity in batch", "raw", b'{"texts": [1e999]}', 422, "string"),
    ("lone surrogate in batch", "raw", b'{"texts": ["ab\\ud800cd"]}', 422, "texts[0] is not valid UTF-8"),
    ("zero-width characters only", "one", {"tweet": "\u200b\u200d"}, 422, "tweet is empty"),
    ("a BOM only", "one", {"tweet": "\ufeff"}, 422, "tweet is empty"),
    ("invalid UTF-8 in the query", "query", b"tweet=ok%FF%FEbad", 422, "tweet is not valid UTF-8"),
    ("CSV without the text column", "file.csv", b"id,body\n1,hi\n", 422, "no 'text' column; the columns are"),
]


@pytest.mark.parametrize(("name", "kind", "payload", "status", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_a_clear_4xx(base_url, name, kind, payload, status, message):
    with httpx.Client(base_url=base_url) as client:  # one keep-alive connection
        if kind == "one":
            response = client.post("/predict_labels_one_tweet", params=payload)
        elif kind == "query":
            response = client.post(f"/predict_labels_one_tweet?{payload.decode()}")
        elif kind.startswith("file"):
            response = client.post("/predict_labels_tweets_file", files={"file": ("t." + (kind[5:] or "txt"), payload)})
        elif kind == "json":
            response = client.post("/v1/classify", json=payload)
        else:
            response = client.post("/v1/classify", content=payload, headers={"content-type": "application/json"})
        assert response.status_code == status, response.text
        assert message in response.text
        assert client.get("/health").json()["ready"] is True  # still up, on the same connection


def test_wrong_method_is_405_with_allow(base_url):
    response = httpx.get(f"{base_url}/v1/classify")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert httpx.delete(f"{base_url}/health").status_code == 405


def test_oversized_body_is_refused_before_it_is_read(base_url):
    from hatespeech.serving.api import MAX_JSON_BYTES

    def endless_body():  # streamed without a length: the server must stop reading at the limit
        chunk = b'{"texts": ["' + b"x" * 65536
        yield chunk
        for _ in range(4 * MAX_JSON_BYTES // 65536):
            yield b"x" * 65536

    json_header = {"content-type": "application/json"}
    response = httpx.post(f"{base_url}/v1/classify", content=endless_body(), headers=json_header)
    assert response.status_code == 413 and "over the limit" in response.text
    # A declared 200 MB body is answered from its headers alone, before a byte of it arrives.
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 209715200\r\n\r\n")  # fmt: skip
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def test_csv_and_jsonl_uploads(base_url):
    csv_file = b'id,text\n1,"nice\nday"\n2,go back invaders\n'
    response = httpx.post(f"{base_url}/predict_labels_tweets_file", files={"file": ("t.csv", csv_file)})
    assert [row["tweet"] for row in response.json()] == ["nice\nday", "go back invaders"]
    jsonl = b'{"text": "love you"}\n\n{"text": "scum"}\n'
    response = httpx.post(f"{base_url}/predict_labels_tweets_file", files={"file": ("t.jsonl", jsonl)})
    assert [row["tweet"] for row in response.json()] == ["love you", "scum"]


def test_concurrent_single_tweets_are_micro_batched(base_url):
    before = httpx.get(f"{base_url}/metrics").text

    async def burst():
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            tweets = [f"tweet number {i} nice day" for i in range(40)]
            responses = await asyncio.gather(
                *(client.post("/predict_labels_one_tweet", params={"tweet": t}) for t in tweets)
            )
            return tweets, responses

    tweets, responses = asyncio.run(burst())
    assert [r.json()["tweet"] for r in responses] == tweets  # each answer matches its own request
    assert httpx.post(f"{base_url}/predict_labels_one_tweet", params={"tweet": " "}).status_code == 422
    metrics = httpx.get(f"{base_url}/metrics").text
    assert "hatespeech_batch_size_bucket" in metrics
    assert 'hatespeech_requests_total{path="/predict_labels_one_tweet",status="200"}' in metrics
    assert 'hatespeech_requests_total{path="/predict_labels_one_tweet",status="422"}' in metrics
    assert "hatespeech_predicted_total{label=" in metrics
    calls = _metric(metrics, "hatespeech_batch_size_count") - _metric(before, "hatespeech_batch_size_count")
    tweets_served = _metric(metrics, "hatespeech_batch_size_sum") - _metric(before, "hatespeech_batch_size_sum")
    assert tweets_served == 40
    assert calls < 40, "concurrent requests shared model calls"
    # Where the time went: each single tweet's queue wait and the model call it rode in, each call's stages.
    for per_tweet in ("hatespeech_queue_seconds_count", "hatespeech_batch_seconds_count"):
        assert _metric(metrics, per_tweet) - _metric(before, per_tweet) == 40
    for stage in ("tokenize", "forward", "results"):
        name = f'hatespeech_batch_stage_seconds_count{{stage="{stage}"}}'
        assert _metric(metrics, name) - _metric(before, name) == calls


def _metric(text: str, name: str) -> float:
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def test_environment_settings_reach_the_components_and_unset_ones_keep_defaults(monkeypatch):
    monkeypatch.setenv("MAX_BATCH", "8")
    monkeypatch.setenv("MAX_WAIT_MS", "2.5")
    monkeypatch.delenv("NUM_THREADS", raising=False)
    from hatespeech.settings import ServerSettings, load

    settings = load(ServerSettings)
    given = app_module.given(max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms,
                             num_threads=settings.num_threads)  # fmt: skip
    assert given == {"max_batch": 8, "max_wait_ms": 2.5}


def test_an_upload_whose_client_gives_up_stops_being_classified(trained_model_dir, monkeypatch):
    """A client gone 1 s into a 10,000-line upload: its remaining chunks are skipped, not classified."""
    import time

    monkeypatch.setenv("BULK_CHUNK", "64")
    app = app_module.create_app(str(trained_model_dir))
    with serve(app) as url:
        service = app.state.service
        classify = service.classifier.classify

        def slow(texts, *stages):  # 157 chunks x 50 ms: about 8 s for the whole file
            time.sleep(0.05)
            return classify(texts, *stages)

        service.classifier.classify = slow
        lines = "".join(f"tweet number {i} go back\n" for i in range(10_000)).encode()
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/predict_labels_tweets_file", files={"file": ("t.txt", lines)}, timeout=1.0)

        def classified() -> float:
            text = httpx.get(f"{url}/metrics", timeout=5).text
            return sum(
                float(line.split()[-1]) for line in text.splitlines() if line.startswith("hatespeech_predicted_total")
            )

        time.sleep(2)
        stopped_at = classified()
        time.sleep(2)
        assert classified() == stopped_at < 10_000 / 2  # nothing more after the client left
        assert httpx.post(f"{url}/v1/classify", json={"texts": ["still serving"]}, timeout=30).status_code == 200


def test_slow_loris_connections_are_closed_at_the_header_deadline(trained_model_dir, monkeypatch):
    """100 connections trickling header bytes used to stay open for 40 s and more."""
    import threading
    import time

    import uvicorn
    from helpers.serving_fixtures import free_port

    from hatespeech.serving.http_server import server_config

    monkeypatch.setenv("HEADER_TIMEOUT_S", "2")
    port = free_port()
    server = uvicorn.Server(server_config(app_module.create_app(str(trained_model_dir)), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    try:
        attackers = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
        started, closed_after = time.monotonic(), {}
        for sock in attackers:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            sock.setblocking(False)
        while len(closed_after) < len(attackers) and time.monotonic() - started < 10:
            for index, sock in enumerate(attackers):
                if index in closed_after:
                    continue
                try:
                    sock.sendall(b"X")  # one more header byte
                    if sock.recv(1) == b"":
                        closed_after[index] = time.monotonic() - started
                except BlockingIOError:
                    pass
                except OSError:  # reset by the server
                    closed_after[index] = time.monotonic() - started
            time.sleep(0.25)
        assert len(closed_after) == 100 and max(closed_after.values()) < 2 + 1.5, closed_after
        # A real client is served; a request whose headers are complete is not cut, however slow its body.
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
        body = b'{"texts": ["go back invaders"]}'
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body))  # fmt: skip
            for start in range(0, len(body), 8):  # 4 pieces, 1 s apart: past the 2 s deadline
                slow.sendall(body[start : start + 8])
                time.sleep(1)
            slow.settimeout(30)
            assert slow.recv(64).startswith(b"HTTP/1.1 200")
        for sock in attackers:
            sock.close()
    finally:
        server.should_exit = True
        thread.join(30)


TWEETEVAL_TEST = Path(__file__).resolve().parents[3] / "shared" / "tweeteval" / "hate" / "test_text.txt"


@pytest.mark.skipif(not TWEETEVAL_TEST.is_file(), reason="needs ../shared/tweeteval beside the repository")
def test_labels_served_to_32_concurrent_clients_are_the_labels_offline(base_url, trained_model_dir):
    """1,000 TweetEval test tweets, one request each from 32 clients at once (so they ride in batches of other
    tweets, unlike offline): the same labels and probabilities as the Classifier gives them offline."""
    from hatespeech.inference.classifier import Classifier

    tweets = [line.strip() for line in TWEETEVAL_TEST.read_text(encoding="utf-8").splitlines()[:1000]]

    async def clients():
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            answers: dict[int, dict] = {}

            async def one_client(first: int):
                for index in range(first, len(tweets), 32):
                    reply = await client.post("/predict_labels_one_tweet", params={"tweet": tweets[index]})
                    assert reply.status_code == 200, reply.text
                    answers[index] = reply.json()

            await asyncio.gather(*(one_client(k) for k in range(32)))
            return [answers[index] for index in range(len(tweets))]

    served = asyncio.run(clients())
    offline = Classifier(str(trained_model_dir)).classify(tweets)
    assert [answer["tweet"] for answer in served] == tweets
    tolerance = 0.02  # bf16 where the CPU has it: batch neighbours change the rounding, not the answer
    for answer, prediction in zip(served, offline, strict=True):
        assert answer["probabilities"] == pytest.approx(prediction.probabilities, abs=tolerance)
        if abs(prediction.probabilities["hate"] - 0.5) > tolerance:
            assert answer["label"] == prediction.label
