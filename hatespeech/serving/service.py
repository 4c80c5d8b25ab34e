"""Serving state shared by the REST API and the Gradio UI: the model, its one inference thread, telemetry.

Both front ends classify through :class:`ModelService`, so their traffic shares one scheduler
(see ``hatespeech.serving.batching``) and is counted in the same Prometheus metrics.
"""

import asyncio
import ctypes
import gc
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hatespeech import HATE, LABEL_NAMES
from hatespeech.inference.classifier import Classifier, Prediction
from hatespeech.monitoring import DEFAULT_WINDOW, DriftCollector, DriftWindow, read_reference
from hatespeech.run_folder import REFERENCE, run_file
from hatespeech.serving.batching import MicroBatcher
from hatespeech.serving.explain import WordWeight, occluded_texts, weights_from
from hatespeech.serving.feedback_store import FeedbackRefused, FeedbackStore, RateLimiter, record

# Garbage-collector pauses stop every thread, the model's included; one histogram for the process, in every app's
# registry. The server freezes what it loaded at start (app.py), or each full collection walked ~350,000 objects
# (torch, transformers, Gradio) for ~160 ms (2-core AMD EPYC): longer than a batch of 32.
GC_PAUSES = Histogram("hatespeech_gc_pause_seconds", "Garbage collector pauses", ["generation"], registry=None,
                      buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))  # fmt: skip
_GC_PAUSE_BY_GENERATION = [GC_PAUSES.labels(str(generation)) for generation in range(3)]  # no lookup per collection
_gc_started = 0.0


def _time_gc_pause(phase: str, info: dict) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        _GC_PAUSE_BY_GENERATION[info["generation"]].observe(time.perf_counter() - _gc_started)


gc.callbacks.append(_time_gc_pause)

WARM_UP_TEXT = "a warm-up tweet of a typical length, before the first request @user http"
WARM_UP_BATCHES = (1, 32)


class Telemetry:
    """Prometheus metrics for one app: traffic, latency, batch sizes, predicted labels, and drift against the
    model's validation statistics (``hatespeech.monitoring``)."""

    def __init__(self, window_size: int = DEFAULT_WINDOW):
        self.registry = CollectorRegistry()
        self.window = DriftWindow(window_size)
        self.drift = DriftCollector(self.window, reference=None)  # the reference arrives with the model
        self.registry.register(self.drift)
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
        # Where a request's time goes inside the server (bench/serve.py's breakdown reads these).
        seconds = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
        self.queue_wait = Histogram("hatespeech_queue_seconds", "Seconds a single tweet waits for its batch to start",
                                    registry=self.registry, buckets=seconds)  # fmt: skip
        self.batch_wait = Histogram("hatespeech_batch_seconds", "Seconds of the model call a single tweet rides in",
                                    registry=self.registry, buckets=seconds)  # fmt: skip
        self.stage = Histogram("hatespeech_batch_stage_seconds", "Seconds per model call in each stage",
                               ["stage"], registry=self.registry, buckets=seconds)  # fmt: skip
        self.startup = Gauge("hatespeech_startup_seconds", "Seconds of each start-up phase (app, model load, warm-up)",
                             ["phase"], registry=self.registry)  # fmt: skip
        self.frozen = Gauge("hatespeech_gc_frozen_objects", "Objects loaded at start, out of the collector's sight",
                            registry=self.registry)  # fmt: skip
        self.registry.register(GC_PAUSES)

    def observe_batch(self, queued: list[float], seconds: float) -> None:
        """A batch of single tweets: each one's time in the queue, and the model time it waited for."""
        for wait in queued:
            self.queue_wait.observe(wait)
            self.batch_wait.observe(seconds)

    def count(self, predictions: list[Prediction]) -> None:
        """Served classifications (never an explanation's word-deleted variants) in the labels and drift window."""
        for prediction in predictions:
            self.labels.labels(prediction.label).inc()
            self.window.add(prediction.probabilities[LABEL_NAMES[HATE]], prediction.tokens, prediction.unknown)


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


def release_free_memory() -> None:
    """Hand the memory freed by a bulk job back to the system (glibc keeps it in its arenas otherwise: the
    server's RSS stayed at its peak after uploads); a no-op where glibc's malloc_trim is missing. Off with
    ``MALLOC_TRIM=0`` (bench/memory.py compares both)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_libc()


def public_model_name(model_id: str) -> str:
    """The model as shown to visitors: a Hub id as it is, a local folder by its name only (no server paths)."""
    return f"local:{Path(model_id).name}" if Path(model_id).is_dir() else model_id


class ModelService:
    """The loaded classifier and its scheduler and telemetry, shared by the API and the UI."""

    def __init__(
        self,
        load: Callable[[], Classifier],
        model_id: str,
        revision: str | None,
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        bulk_chunk: int = 64,
        feedback: FeedbackStore | None = None,
        drift_window: int = DEFAULT_WINDOW,
        trim_memory: bool = True,
    ):
        self.load, self.model_id, self.revision = load, model_id, revision
        self.feedback, self.feedback_limiter = feedback, RateLimiter()
        self.telemetry = Telemetry(drift_window)
        self.classifier: Classifier | None = None
        self.batcher = MicroBatcher(self._classify, max_batch=max_batch, max_wait_ms=max_wait_ms, bulk_chunk=bulk_chunk,
                                    on_idle=release_free_memory if trim_memory else None,
                                    on_batch=self.telemetry.observe_batch)  # fmt: skip

    def _classify(self, texts: list[str]) -> list[Prediction]:
        stages: dict[str, float] = {}
        predictions = self.classifier.classify(texts, stages)
        self.telemetry.batch_size.observe(len(predictions))
        for stage, seconds in stages.items():
            self.telemetry.stage.labels(stage).observe(seconds)
        return predictions

    def ensure_loaded(self) -> None:
        """Load the model once (``ModelError`` when it is incomplete or missing), in the inference thread.

        Every PyTorch call stays on that one thread: with OpenMP each thread that runs operators keeps its own
        team of worker threads, and two teams outnumber the cores of a small CPU, so libgomp stops spinning and
        every operator pays a wake-up (2-core Intel Xeon, bf16, one tweet: 12.6 ms against 5.5 ms)."""
        if self.classifier is None:
            self.batcher.executor.submit(self._load_and_warm_up).result()
            path = run_file(self.model_id, self.revision, REFERENCE)
            self.telemetry.drift.reference = read_reference(path.read_bytes()) if path else None

    def _load_and_warm_up(self) -> None:
        started = time.perf_counter()
        classifier = self.load()
        loaded = time.perf_counter()
        # The first calls of an engine allocate and pick kernels (ONNX Runtime: ~10x a warm call); pay that
        # before /health says ready, not in the first visitor's request.
        for size in WARM_UP_BATCHES:
            classifier.classify([WARM_UP_TEXT] * size)
        self.telemetry.startup.labels("model_load").set(loaded - started)
        self.telemetry.startup.labels("warm_up").set(time.perf_counter() - loaded)
        self.classifier = classifier

    async def classify_one(self, text: str) -> Prediction:
        """One checked tweet, micro-batched with the other single tweets."""
        prediction = await self.batcher.submit(text)
        self.telemetry.count([prediction])
        return prediction

    async def classify_many(self, texts: list[str]) -> list[Prediction]:
        """Checked tweets of an upload or batch, in chunks that let single tweets through first."""
        predictions = await self.batcher.submit_many(texts)
        self.telemetry.count(predictions)
        return predictions

    async def explain(self, text: str) -> tuple[Prediction, list[WordWeight]]:
        """One checked tweet's prediction and each word's weight (``hatespeech.serving.explain``): its occluded
        variants go through the scheduler as one bulk job, so single tweets still go first. Neither the tweet nor
        its variants count in the label and drift metrics: they are not traffic the model serves."""
        units, texts = occluded_texts(text)
        predictions = await self.batcher.submit_many(texts)
        hate = [prediction.probabilities[LABEL_NAMES[HATE]] for prediction in predictions]
        return predictions[0], weights_from(text, units, hate)

    async def record_feedback(self, text: str, client: str, label: str | None = None, correct: bool | None = None):
        """Store a user's ``label`` for a checked tweet (or, from the demo, whether the model was ``correct``),
        with what the model says about it now; False when the same feedback is stored already."""
        if self.feedback is None:
            raise FeedbackRefused("feedback is not switched on for this server (FEEDBACK_DIR is not set)", 404)
        if not self.feedback_limiter.allow(client):
            raise FeedbackRefused("too much feedback from this client; wait a minute", 429)
        prediction = await self.batcher.submit(text)  # what the model says now; not a served classification
        if label is None:
            label = prediction.label if correct else LABEL_NAMES[1 - prediction.label_id]
        entry = record(text, label, prediction, public_model_name(self.model_id), self.revision)
        return await asyncio.to_thread(self.feedback.add, entry)

    @property
    def ready(self) -> bool:
        return self.classifier is not None
