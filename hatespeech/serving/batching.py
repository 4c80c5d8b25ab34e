"""One inference thread for the whole server, shared fairly by single tweets and bulk work.

Single tweets (REST ``/predict_labels_one_tweet``, the UI's Classify button) are micro-batched: a
batch takes every single tweet already queued (at most ``max_batch``), then waits up to
``max_wait_ms`` for more (default 0: a lone request is not delayed). Under load it also waits, for
at most half the last batch's model time, until as many tweets are queued as the last batch held:
clients answered together send their next requests together, and without the wait the first of
them went alone and the rest trickled into small batches (bench/serve.py, 32 clients).

Bulk work (file uploads, JSON batches, the UI's batch tab) is cut into chunks of ``bulk_chunk``
tweets, and queued single tweets always go before the next chunk: a 10,000-line upload delays a
single tweet by at most one chunk's forward pass instead of the whole file. ``bulk_chunk=0`` runs
each bulk job in one piece (the behaviour the fairness benchmark compares against).

The model runs in one worker thread, so the event loop keeps accepting requests meanwhile and two
front ends never run the model at once on the same cores.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hatespeech.inference.classifier import Prediction

logger = logging.getLogger(__name__)


class MicroBatcher:
    """Schedules single texts (micro-batched, first) and bulk chunks onto one ``classify`` thread."""

    def __init__(
        self,
        classify: Callable[[list[str]], list[Prediction]],
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        bulk_chunk: int = 64,
        on_idle: Callable[[], None] | None = None,
        on_batch: Callable[[list[float], float], None] | None = None,
    ):
        self.classify, self.max_batch, self.max_wait = classify, max_batch, max_wait_ms / 1000
        self.on_idle = on_idle  # called in the inference thread when bulk work has drained
        # Called after each batch of single texts with each one's seconds in the queue and the batch's model time.
        self.on_batch = on_batch
        self.bulk_chunk = bulk_chunk
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self.last_batch, self.last_seconds = 0, 0.0  # the last single-tweet batch's size and model time
        self.singles: deque[tuple[str, asyncio.Future, float]] = deque()  # text, its answer, when it was queued
        self.bulk: deque[tuple[list[str], asyncio.Future]] = deque()
        self.wake: asyncio.Event | None = None  # work is queued
        self.arrived: asyncio.Event | None = None  # a single text was queued (what a filling batch waits for)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.wake, self.arrived = asyncio.Event(), asyncio.Event()
        self.task = asyncio.create_task(self._serve())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, text: str) -> Prediction:
        """Classify one text, batched with the other single texts queued meanwhile."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.singles.append((text, future, loop.time()))
        self.wake.set()
        self.arrived.set()
        return await future

    async def submit_many(self, texts: list[str]) -> list[Prediction]:
        """Classify a batch in chunks that yield to single texts; results in input order."""
        size = self.bulk_chunk or len(texts) or 1
        # Chunks of similar lengths pad little, as one length-sorted pass over the whole job would.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        loop = asyncio.get_running_loop()
        futures = []
        for start in range(0, len(texts), size):
            futures.append(loop.create_future())
            self.bulk.append(([texts[i] for i in order[start : start + size]], futures[-1]))
        self.wake.set()
        try:
            chunks = await asyncio.gather(*futures)
        finally:  # a client that went away: its chunks still queued are skipped
            for future in futures:
                future.cancel()
        predictions: list[Prediction] = [None] * len(texts)  # type: ignore[list-item]
        for index, prediction in zip(order, (p for chunk in chunks for p in chunk), strict=True):
            predictions[index] = prediction
        return predictions

    async def _serve(self) -> None:
        while True:
            await self.wake.wait()
            if self.singles:
                batch = await self._take_singles()
                if batch:
                    started = asyncio.get_running_loop().time()
                    outcome = await self._classify([text for text, *_ in batch])
                    self.last_batch, self.last_seconds = len(batch), asyncio.get_running_loop().time() - started
                    if self.on_batch is not None:
                        self.on_batch([started - queued for *_, queued in batch], self.last_seconds)
                    for index, (_, future, _) in enumerate(batch):
                        _deliver(future, outcome if isinstance(outcome, Exception) else outcome[index])
            elif self.bulk:
                texts, future = self.bulk.popleft()
                if not future.done():
                    _deliver(future, await self._classify(texts))
                if not self.bulk and self.on_idle is not None:
                    await asyncio.get_running_loop().run_in_executor(self.executor, self.on_idle)
            if not self.singles and not self.bulk:
                self.wake.clear()

    async def _take_singles(self) -> list[tuple[str, asyncio.Future, float]]:
        batch: list[tuple[str, asyncio.Future, float]] = []
        loop = asyncio.get_running_loop()
        deadline, fill_deadline = loop.time() + self.max_wait, loop.time() + self.last_seconds / 2
        while len(batch) < self.max_batch:
            while self.singles and len(batch) < self.max_batch:
                item = self.singles.popleft()
                if not item[1].done():
                    batch.append(item)
            filling = len(batch) < self.last_batch and loop.time() < fill_deadline
            if len(batch) == self.max_batch or (loop.time() >= deadline and not filling):
                break
            # Sleep until the next single tweet arrives (or the wait ends), not in a polling loop: the event loop's
            # wake-ups took CPU from the requests it was waiting for.
            until = max(deadline, fill_deadline) if filling else deadline
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), until - loop.time())
        return batch

    async def _classify(self, texts: list[str]) -> list[Prediction] | Exception:
        """``classify(texts)`` in the inference thread; a failure is returned, to reach every waiting request."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self.classify, texts)
        except Exception as err:
            logger.error("Inference failed for %d text(s): %s", len(texts), err)
            return err


def _deliver(future: asyncio.Future, outcome) -> None:
    if future.done():  # the client went away
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
