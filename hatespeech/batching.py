"""Micro-batching: concurrent single-tweet requests share one forward pass.

A batch takes every request already queued (at most ``max_batch``), then waits up to
``max_wait_ms`` for more (default 0: no deliberate wait, so a lone request is not delayed; under
load, requests queue while the model is busy and the next batch picks them all up). The model
runs in a worker thread so the event loop keeps accepting requests meanwhile.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hatespeech.inference import Prediction

logger = logging.getLogger(__name__)


class MicroBatcher:
    """Gathers texts submitted from many coroutines into bounded batches for ``classify``."""

    def __init__(
        self,
        classify: Callable[[list[str]], list[Prediction]],
        max_batch: int = 32,
        max_wait_ms: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.classify, self.max_batch, self.max_wait = classify, max_batch, max_wait_ms / 1000
        self.on_batch = on_batch
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._serve())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, text: str) -> Prediction:
        """Classify one text, batched with whatever else arrives within the wait window."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((text, future))
        return await future

    async def run_in_worker(self, classify: Callable[[list[str]], list[Prediction]], texts: list[str]):
        """Run ``classify(texts)`` in the single inference thread, off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, classify, texts)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch and (remaining := deadline - loop.time()) > 0:
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), remaining))
                except TimeoutError:
                    break
            await self._run(batch)

    async def _run(self, batch: list) -> None:
        if self.on_batch:
            self.on_batch(len(batch))
        try:
            results = await self.run_in_worker(self.classify, [text for text, _ in batch])
        except Exception as err:  # deliver the failure to every waiting request
            logger.exception("Inference failed for a batch of %d", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
