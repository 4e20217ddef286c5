"""Runs speech decodes off the event loop: bounded, finals first, stale interim windows skipped."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TypeVar

import anyio.to_thread

from copilot.models.asr import SpeechRecognizer
from copilot.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Priority(IntEnum):
    """Lower runs first: a final turn never waits behind an interim window or a file."""

    FINAL = 0
    INTERIM = 1
    FILE = 2


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[bool] = field(compare=False)
    key: Hashable | None = field(compare=False, default=None)
    queued_at: float = field(compare=False, default=0.0)


class AsrScheduler:
    """A priority capacity limiter in front of one shared recogniser, loaded on first use.

    Under overload the service degrades visibly instead of falling behind without bound: a newer
    interim window of the same leg replaces a waiting one, and an interim that waited longer than
    ``max_interim_wait_s`` is dropped (both count in ``copilot_asr_interim_skipped``), while finals
    and file spans always run, in arrival order within their priority.
    """

    def __init__(
        self,
        load: Callable[[], SpeechRecognizer],
        workers: int,
        metrics: ServiceMetrics,
        max_interim_wait_s: float,
    ) -> None:
        """Args:
        load: Builds the recogniser (blocking; run in a thread on first use).
        workers: Decodes at a time.
        metrics: Where queue depth, decode time and skipped windows are counted.
        max_interim_wait_s: An interim window older than this when its turn comes is skipped.
        """
        self._load = load
        self._recognizer: SpeechRecognizer | None = None
        self._load_lock = asyncio.Lock()
        self._free = workers
        self._heap: list[_Waiter] = []
        self._interim: dict[Hashable, _Waiter] = {}
        self._seq = itertools.count()
        self._metrics = metrics
        self._max_wait = max_interim_wait_s

    async def recognizer(self) -> SpeechRecognizer:
        """The recogniser, loaded (in a thread) by the first caller.

        Raises:
            ModelNotFoundError, ModelChecksumError, ConfigError: The model cannot be loaded.
        """
        if self._recognizer is None:
            async with self._load_lock:
                if self._recognizer is None:
                    self._recognizer = await anyio.to_thread.run_sync(self._load)
        return self._recognizer

    async def run(
        self,
        priority: Priority,
        work: Callable[[SpeechRecognizer], T],
        key: Hashable | None = None,
    ) -> T | None:
        """Run ``work(recognizer)`` in a thread when capacity and priority allow.

        Args:
            priority: See `Priority`.
            work: The blocking decode.
            key: For interim windows, the leg: a newer window of the same leg replaces this one.

        Returns:
            The result, or None for an interim window that was skipped.
        """
        recognizer = await self.recognizer()
        if not await self._acquire(priority, key):
            self._metrics.asr_overload.inc()
            return None
        started = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(work, recognizer)
        finally:
            self._metrics.asr_seconds.labels(priority.name.lower()).observe(
                time.perf_counter() - started
            )
            self._release()

    async def _acquire(self, priority: Priority, key: Hashable | None) -> bool:
        if self._free > 0 and not self._heap:
            self._free -= 1
            return True
        loop = asyncio.get_running_loop()
        waiter = _Waiter(priority, next(self._seq), loop.create_future(), key, time.monotonic())
        if priority is Priority.INTERIM and key is not None:
            older = self._interim.pop(key, None)
            if older is not None and not older.future.done():
                older.future.set_result(False)
            self._interim[key] = waiter
        heapq.heappush(self._heap, waiter)
        self._metrics.asr_queue.set(len(self._heap))
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled() and waiter.future.result():
                self._release()  # granted just as we were cancelled: hand the slot on
            raise
        finally:
            if self._interim.get(key) is waiter:
                del self._interim[key]

    def _release(self) -> None:
        self._free += 1
        now = time.monotonic()
        while self._free > 0 and self._heap:
            waiter = heapq.heappop(self._heap)
            if waiter.future.done():
                continue  # replaced or cancelled
            if waiter.priority == Priority.INTERIM and now - waiter.queued_at > self._max_wait:
                waiter.future.set_result(False)
                continue
            self._free -= 1
            waiter.future.set_result(True)
        self._metrics.asr_queue.set(len(self._heap))
