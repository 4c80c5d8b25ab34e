"""REST API: single tweets (micro-batched), files, JSON batches, health and Prometheus metrics.

Limits (documented in the README): a tweet is 1 to ``MAX_TWEET_CHARS`` characters without NUL
bytes; a JSON batch holds 1 to ``MAX_BATCH_TEXTS`` texts; an uploaded file is UTF-8, at most
``MAX_FILE_BYTES`` bytes and ``MAX_FILE_LINES`` non-blank lines. Anything else gets a 4xx with a
message, never a 500.
"""

import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, Field

from hatespeech.batching import MicroBatcher
from hatespeech.inference import Classifier, Prediction
from hatespeech.text import MAX_TWEET_CHARS

logger = logging.getLogger(__name__)

MAX_BATCH_TEXTS = 256
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FILE_LINES = 10_000


class PredictionOut(BaseModel):
    label: str = Field(description="'hate' or 'not-hate'")
    score: float = Field(description="Probability of the predicted label")
    probabilities: dict[str, float] = Field(description="Probability of each label")


class TweetPrediction(PredictionOut):
    tweet: str


class ClassifyRequest(BaseModel):
    texts: list[str] = Field(description=f"1 to {MAX_BATCH_TEXTS} tweets")


class ClassifyResponse(BaseModel):
    predictions: list[PredictionOut]


class Health(BaseModel):
    model_id: str
    revision: str | None
    ready: bool


def check_tweet(text: str, where: str = "tweet") -> str:
    """Reject what the model cannot meaningfully classify, with a message that says why."""
    if "\x00" in text:
        raise HTTPException(422, f"{where} contains a NUL byte")
    if not text.strip():
        raise HTTPException(422, f"{where} is empty")
    if len(text) > MAX_TWEET_CHARS:
        raise HTTPException(422, f"{where} is {len(text)} characters long; the limit is {MAX_TWEET_CHARS}")
    return text


def read_tweets_file(content: bytes) -> list[str]:
    """One tweet per line; blank lines are skipped; errors name the line."""
    if len(content) > MAX_FILE_BYTES:
        raise HTTPException(413, f"file is {len(content)} bytes; the limit is {MAX_FILE_BYTES}")
    tweets = []
    for lineno, raw in enumerate(content.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, f"line {lineno} is not valid UTF-8") from None
        if not line.strip():
            continue
        tweets.append(check_tweet(line, f"line {lineno}"))
    if not tweets:
        raise HTTPException(422, "file holds no tweets (one per line)")
    if len(tweets) > MAX_FILE_LINES:
        raise HTTPException(413, f"file holds {len(tweets)} tweets; the limit is {MAX_FILE_LINES}")
    return tweets


class Telemetry:
    """Prometheus metrics for one app: traffic, latency, batch sizes and predicted labels (drift)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("hatespeech_requests", "HTTP requests", ["path", "status"], registry=self.registry)
        self.latency = Histogram(
            "hatespeech_request_seconds", "Request latency", ["path"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.batch_size = Histogram(
            "hatespeech_batch_size", "Tweets per model call", registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )  # fmt: skip
        self.labels = Counter("hatespeech_predicted", "Predicted labels", ["label"], registry=self.registry)

    def count_labels(self, predictions: list[Prediction]) -> None:
        for prediction in predictions:
            self.labels.labels(prediction.label).inc()


class RequestMetrics:
    """ASGI middleware counting requests and latency per route (plain ASGI: a ``BaseHTTPMiddleware``
    cost about a fifth of the event loop's time per request in a py-spy profile)."""

    def __init__(self, app, telemetry: Telemetry):
        self.app, self.telemetry = app, telemetry

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), "500"

        async def send_and_observe(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            path = scope["route"].path if scope.get("route") else "other"
            self.telemetry.requests.labels(path, status).inc()
            self.telemetry.latency.labels(path).observe(time.perf_counter() - started)


class ModelService:
    """The loaded classifier, its micro-batcher and telemetry, shared by the API and the UI."""

    def __init__(
        self,
        load: Callable[[], Classifier],
        model_id: str,
        revision: str | None,
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
    ):
        self.load, self.model_id, self.revision = load, model_id, revision
        self.telemetry = Telemetry()
        self.classifier: Classifier | None = None
        self.batcher = MicroBatcher(
            self._classify, max_batch=max_batch, max_wait_ms=max_wait_ms, on_batch=self.telemetry.batch_size.observe
        )

    def _classify(self, texts: list[str]) -> list[Prediction]:
        predictions = self.classifier.classify(texts)
        self.telemetry.count_labels(predictions)
        return predictions

    def classify(self, texts: list[str]) -> list[Prediction]:
        """A ready-made batch, counted once: synchronous for the Gradio UI's worker threads."""
        self.telemetry.batch_size.observe(len(texts))
        return self._classify(texts)

    async def classify_batch(self, texts: list[str]) -> list[Prediction]:
        """A ready-made batch from a REST request, run in the inference worker off the event loop."""
        return await self.batcher.run_in_worker(self.classify, texts)

    @property
    def ready(self) -> bool:
        return self.classifier is not None


def create_api(service: ModelService) -> FastAPI:
    """The FastAPI app; the model loads once, in the lifespan, before requests are served."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if service.classifier is None:
            service.classifier = service.load()
        await service.batcher.start()
        yield
        await service.batcher.stop()

    api = FastAPI(
        title="Tweet hate-speech classifier",
        description="Labels tweets as hate or not-hate (TweetEval hate). " + __doc__.split("\n\n")[1],
        lifespan=lifespan,
    )

    api.add_middleware(RequestMetrics, telemetry=service.telemetry)

    @api.post("/predict_labels_one_tweet", response_model=TweetPrediction)
    async def predict_labels_one_tweet(tweet: Annotated[str, Query(description="The tweet to classify")]):
        prediction = await service.batcher.submit(check_tweet(tweet))
        return TweetPrediction(tweet=tweet, **_as_dict(prediction))

    @api.post("/predict_labels_tweets_file", response_model=list[TweetPrediction])
    async def predict_labels_tweets_file(
        file: Annotated[UploadFile, File(description="UTF-8 text, one tweet per line")],
    ):
        tweets = read_tweets_file(await file.read(MAX_FILE_BYTES + 1))
        predictions = await service.classify_batch(tweets)
        return [TweetPrediction(tweet=t, **_as_dict(p)) for t, p in zip(tweets, predictions, strict=True)]

    @api.post("/v1/classify", response_model=ClassifyResponse)
    async def classify(request: ClassifyRequest):
        if not request.texts:
            raise HTTPException(422, "texts is empty; send 1 or more tweets")
        if len(request.texts) > MAX_BATCH_TEXTS:
            raise HTTPException(422, f"{len(request.texts)} texts; the limit is {MAX_BATCH_TEXTS} per request")
        texts = [check_tweet(text, f"texts[{i}]") for i, text in enumerate(request.texts)]
        predictions = await service.classify_batch(texts)
        return ClassifyResponse(predictions=[PredictionOut(**_as_dict(p)) for p in predictions])

    @api.get("/health", response_model=Health)
    async def health():
        return Health(model_id=service.model_id, revision=service.revision, ready=service.ready)

    @api.get("/metrics", include_in_schema=False)
    async def metrics():
        return Response(generate_latest(service.telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    return api


def _as_dict(prediction: Prediction) -> dict:
    return {"label": prediction.label, "score": prediction.score, "probabilities": prediction.probabilities}
