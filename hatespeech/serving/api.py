"""REST API: single tweets (micro-batched), files, JSON batches, explanations, feedback, health and metrics.

Limits (documented in docs/input_limits.md): a tweet is 1 to 1000 characters of valid UTF-8 with
something visible and no NUL byte; a JSON batch holds 1 to 256 texts in at most 1 MiB; an explanation
request one tweet in at most 16 KiB; an uploaded
file (.txt, .csv with a ``text`` column, or .jsonl) is at most 2 MiB and 10,000 tweets. Anything
else gets a 4xx with a message, never a 500.
"""

import asyncio
from contextlib import asynccontextmanager
from typing import Annotated, Literal
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from hatespeech.inference.classifier import Prediction
from hatespeech.serving.feedback_store import FeedbackRefused
from hatespeech.serving.service import ModelService, RequestMetrics, public_model_name
from hatespeech.tweets import MAX_FILE_BYTES, TweetError, UploadTooLarge, check_tweet, read_upload

MAX_BATCH_TEXTS = 256
DISCONNECT_POLL_S = 0.25  # how often bulk requests check that their client is still there
# A full JSON batch of 1000-character tweets, with room for \uXXXX escapes of non-ASCII text.
MAX_JSON_BYTES = 1024 * 1024
MAX_EXPLAIN_BYTES = 16 * 1024  # one tweet, escaped (explanations and feedback)
# Multipart framing around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024


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


class ExplainRequest(BaseModel):
    text: str = Field(description="The tweet to explain")


class WordWeightOut(BaseModel):
    word: str
    weight: float = Field(description="Hate probability with the word minus without it (positive: towards hate)")


class ExplainResponse(PredictionOut):
    words: list[WordWeightOut]


class FeedbackRequest(BaseModel):
    text: str = Field(description="The tweet the feedback is about")
    label: Literal["hate", "not-hate"] = Field(description="The right label, in the user's judgement")


class FeedbackResponse(BaseModel):
    stored: bool = Field(description="False when the same text with the same label was stored before")


class Health(BaseModel):
    model_id: str
    revision: str | None
    ready: bool


class RequestGuard:
    """ASGI middleware run before any parsing: 405 for a wrong method on a REST route (the Gradio app
    mounted at / would answer 404), and 413 for a body over its route's limit, before it is read."""

    def __init__(self, app, methods: dict[str, set[str]], body_limits: dict[str, int]):
        self.app, self.methods, self.body_limits = app, methods, body_limits

    async def __call__(self, scope, receive, send):
        path = scope.get("path")
        if scope["type"] != "http" or path not in self.methods:
            return await self.app(scope, receive, send)
        if scope["method"] not in self.methods[path]:
            allow = ", ".join(sorted(self.methods[path]))
            reply = JSONResponse({"detail": f"{scope['method']} is not allowed here; use {allow}"}, 405)
            reply.headers["Allow"] = allow
            return await reply(scope, receive, send)
        limit = self.body_limits.get(path)
        if limit is None:
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if length.isdigit() and int(length) > limit:
            return await _too_large(limit)(scope, receive, send)
        received, refused = 0, False

        async def counted_receive():  # a body without a length is counted as it arrives
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit and not refused:
                refused = True  # answer now; the app sees the client gone and its own answer is dropped
                await _too_large(limit)(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message):
            if not refused:
                await send(message)

        await self.app(scope, counted_receive, send_unless_refused)


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body is over the limit of {limit} bytes"}, 413)


def query_tweet(request: Request) -> str:
    """The raw ``tweet`` query parameter decoded strictly (Starlette would replace invalid UTF-8 silently)."""
    for pair in request.scope["query_string"].split(b"&"):
        name, _, value = pair.partition(b"=")
        if unquote_to_bytes(name.replace(b"+", b" ")) == b"tweet":
            try:
                return unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                raise HTTPException(422, "tweet is not valid UTF-8") from None
    raise HTTPException(422, "tweet: the query parameter is missing")


def checked(text, where: str = "tweet") -> str:
    """``check_tweet`` as an HTTP 422."""
    try:
        return check_tweet(text, where)
    except TweetError as err:
        raise HTTPException(422, str(err)) from None


async def unless_client_leaves(request: Request, work):
    """Await ``work``; when the client disconnects first, cancel it (the scheduler then skips its queued chunks)
    and answer 499, which only the metrics see."""
    task = asyncio.ensure_future(work)
    while True:
        done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
        if done:
            return task.result()
        if await request.is_disconnected():
            task.cancel()
            raise HTTPException(499, "the client closed the request")


def create_api(service: ModelService) -> FastAPI:
    """The FastAPI app; the model loads once, in the lifespan, before requests are served."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.ensure_loaded()
        await service.batcher.start()
        yield
        await service.batcher.stop()
        if service.feedback is not None:
            service.feedback.close()

    api = FastAPI(
        title="Tweet hate-speech classifier",
        description="Labels tweets as hate or not-hate (TweetEval hate). " + __doc__.split("\n\n")[1],
        lifespan=lifespan,
    )

    @api.exception_handler(RequestValidationError)
    async def validation_error(request: Request, err: RequestValidationError):
        # Only location and message: the offending input may be NaN, Infinity or a lone surrogate,
        # which a JSON response cannot carry (FastAPI's default handler echoes it and fails with a 500).
        detail = [{"loc": [str(part) for part in e.get("loc", ())], "msg": e.get("msg", "")} for e in err.errors()]
        return JSONResponse({"detail": detail}, 422)

    @api.post("/predict_labels_one_tweet", response_model=TweetPrediction)
    async def predict_labels_one_tweet(
        request: Request, tweet: Annotated[str, Query(description="The tweet to classify")]
    ):
        tweet = checked(query_tweet(request))
        return TweetPrediction(tweet=tweet, **_as_dict(await service.classify_one(tweet)))

    @api.post("/predict_labels_tweets_file", response_model=list[TweetPrediction])
    async def predict_labels_tweets_file(
        request: Request,
        file: Annotated[UploadFile, File(description="UTF-8 .txt (one tweet per line), .csv or .jsonl ('text')")],
    ):
        try:
            records = read_upload(await file.read(MAX_FILE_BYTES + 1), _upload_name(file.filename))
        except TweetError as err:
            raise HTTPException(413 if isinstance(err, UploadTooLarge) else 422, str(err)) from None
        bad = next((record for record in records if record.error), None)
        if bad:  # REST policy: the whole request is refused at its first bad tweet
            raise HTTPException(422, bad.message)
        tweets = [record.text for record in records]
        predictions = await unless_client_leaves(request, service.classify_many(tweets))
        return [TweetPrediction(tweet=t, **_as_dict(p)) for t, p in zip(tweets, predictions, strict=True)]

    @api.post("/v1/classify", response_model=ClassifyResponse)
    async def classify(request: ClassifyRequest, http: Request):
        if not request.texts:
            raise HTTPException(422, "texts is empty; send 1 or more tweets")
        if len(request.texts) > MAX_BATCH_TEXTS:
            raise HTTPException(422, f"{len(request.texts)} texts; the limit is {MAX_BATCH_TEXTS} per request")
        texts = [checked(text, f"texts[{i}]") for i, text in enumerate(request.texts)]
        predictions = await unless_client_leaves(http, service.classify_many(texts))
        return ClassifyResponse(predictions=[PredictionOut(**_as_dict(p)) for p in predictions])

    @api.post("/v1/explain", response_model=ExplainResponse)
    async def explain(request: ExplainRequest):
        text = checked(request.text, "text")
        prediction, words = await service.explain(text)
        return ExplainResponse(
            **_as_dict(prediction), words=[WordWeightOut(word=w.word, weight=w.weight) for w in words]
        )

    @api.post("/v1/feedback", response_model=FeedbackResponse)
    async def feedback(request: FeedbackRequest, http: Request):
        text = checked(request.text, "text")
        try:  # the address only keys the in-memory rate limit; it is never stored
            stored = await service.record_feedback(text, http.client.host if http.client else "", label=request.label)
        except FeedbackRefused as err:
            raise HTTPException(err.status, str(err)) from None
        return FeedbackResponse(stored=stored)

    @api.get("/health", response_model=Health)
    async def health():
        return Health(model_id=public_model_name(service.model_id), revision=service.revision, ready=service.ready)

    @api.get("/metrics", include_in_schema=False)
    async def metrics():
        return Response(generate_latest(service.telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    methods: dict[str, set[str]] = {}
    for route in api.routes:
        if isinstance(route, APIRoute):
            methods.setdefault(route.path, set()).update(route.methods)
    limits = {"/v1/classify": MAX_JSON_BYTES, "/v1/explain": MAX_EXPLAIN_BYTES, "/v1/feedback": MAX_EXPLAIN_BYTES,
              "/predict_labels_tweets_file": MAX_FILE_BYTES + MULTIPART_OVERHEAD}  # fmt: skip
    api.add_middleware(RequestGuard, methods=methods, body_limits=limits)
    api.add_middleware(RequestMetrics, telemetry=service.telemetry)
    return api


def _upload_name(filename: str | None) -> str:
    """The upload's name for its format; a name without a known extension is read as .txt."""
    name = filename or "upload.txt"
    return name if name.lower().endswith((".csv", ".jsonl")) else "upload.txt"


def _as_dict(prediction: Prediction) -> dict:
    return {"label": prediction.label, "score": prediction.score, "probabilities": prediction.probabilities}
