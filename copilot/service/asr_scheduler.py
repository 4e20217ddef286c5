"""Runs speech decodes off the event loop: bounded, finals first, batched, stale windows skipped."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import TypeVar

import anyio.to_thread

from copilot.models.asr import DecodeRequest, SpeechRecognizer, Transcription
from copilot.service.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Priority(IntEnum):
    """Lower runs first: a final turn never waits behind an interim window or a file.

    Customer finals go before agent finals: a customer turn is what gets suggestions, an agent
    turn only gives them context.
    """

    FINAL = 0
    AGENT_FINAL = 1
    INTERIM = 2
    FILE = 3

    @property
    def kind(self) -> str:
        """The ``kind`` label of the decode metrics: final, interim or file."""
        return "final" if self <= Priority.AGENT_FINAL else self.name.lower()


class _Grant(Enum):
    RUN = "run"  # the waiter runs now (and may take companions along)
    SKIP = "skip"  # a stale or unwanted interim window
    JOINED = "joined"  # a running batch took the waiter's request along


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    future: asyncio.Future[_Grant] = field(compare=False)
    key: Hashable | None = field(compare=False, default=None)
    queued_at: float = field(compare=False, default=0.0)
    request: DecodeRequest | None = field(compare=False, default=None)
    wanted: Callable[[], bool] | None = field(compare=False, default=None)
    outcome: asyncio.Future[Transcription] | None = field(compare=False, default=None)


class AsrScheduler:
    """A priority capacity limiter in front of one shared recogniser, loaded on first use.

    Under overload the service degrades visibly instead of falling behind without bound: a newer
    interim window of the same leg replaces a waiting one, and an interim that waited longer than
    ``max_interim_wait_s`` (or that its caller no longer wants) is dropped (both count in
    ``copilot_asr_interim_skipped``), while finals and file spans always run, in arrival order
    within their priority. A decode that starts takes up to ``max_batch - 1`` waiting decodes of
    the same kind along into one batched decode. While any leg says its final is imminent (it has
    gone quiet mid-utterance), interim windows and files wait so the final finds the recogniser
    free; the hold lapses by itself after ``hold_s``.
    """

    def __init__(
        self,
        load: Callable[[], SpeechRecognizer],
        workers: int,
        metrics: ServiceMetrics,
        max_interim_wait_s: float,
        max_batch: int = 1,
        hold_s: float = 1.0,
    ) -> None:
        """Args:
        load: Builds the recogniser (blocking; run in a thread on first use).
        workers: Decodes at a time.
        metrics: Where queue depth, decode time and skipped windows are counted.
        max_interim_wait_s: An interim window older than this when its turn comes is skipped.
        max_batch: Most decodes of one kind run as one batch.
        hold_s: Longest a leg's imminent final holds back interim windows and files.
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
        self._max_batch = max_batch
        self._hold_s = hold_s
        self._imminent: dict[Hashable, float] = {}  # leg -> hold deadline (monotonic)

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

    def expect_final(self, leg: Hashable, imminent: bool) -> None:
        """Say whether ``leg`` may end an utterance any moment (hold interims) or not."""
        if imminent:
            self._imminent[leg] = time.monotonic() + self._hold_s
            asyncio.get_running_loop().call_later(self._hold_s + 0.01, self._dispatch)
        elif self._imminent.pop(leg, None) is not None:
            self._dispatch()

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
        if await self._acquire(self._waiter(priority, key)) is not _Grant.RUN:
            self._metrics.asr_overload.inc()
            return None
        started = time.perf_counter()
        try:
            return await anyio.to_thread.run_sync(work, recognizer)
        finally:
            self._metrics.asr_seconds.labels(priority.kind).observe(time.perf_counter() - started)
            self._release()

    async def decode(
        self,
        priority: Priority,
        request: DecodeRequest,
        key: Hashable | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> Transcription | None:
        """Transcribe one clip, batched with other waiting decodes of the same kind.

        Args:
            priority: See `Priority`.
            request: The clip and its decoding options.
            key: For interim windows, the leg (see `run`).
            wanted: For interim windows, asked when its turn comes; False skips it.

        Returns:
            The transcription, or None for an interim window that was skipped.
        """
        recognizer = await self.recognizer()
        waiter = self._waiter(priority, key, request, wanted)
        grant = await self._acquire(waiter)
        if grant is _Grant.SKIP:
            self._metrics.asr_overload.inc()
            return None
        if grant is _Grant.JOINED:
            assert waiter.outcome is not None
            return await waiter.outcome
        batch = [waiter, *self._companions(waiter)]
        requests = [w.request for w in batch if w.request is not None]
        started = time.perf_counter()
        try:
            results = await anyio.to_thread.run_sync(recognizer.transcribe_batch, requests)
        except BaseException as exc:
            for other in batch[1:]:
                if other.outcome is not None and not other.outcome.done():
                    if isinstance(exc, Exception):
                        other.outcome.set_exception(exc)
                    else:
                        other.outcome.cancel()
            raise
        finally:
            self._metrics.asr_seconds.labels(priority.kind).observe(time.perf_counter() - started)
            self._release()
        for other, result in zip(batch[1:], results[1:], strict=True):
            if other.outcome is not None and not other.outcome.done():
                other.outcome.set_result(result)
        if len(batch) > 1:
            logger.debug("asr_batch kind=%s size=%d", priority.kind, len(batch))
        return results[0]

    def _waiter(
        self,
        priority: Priority,
        key: Hashable | None,
        request: DecodeRequest | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> _Waiter:
        loop = asyncio.get_running_loop()
        outcome = loop.create_future() if request is not None else None
        seq, now = next(self._seq), time.monotonic()
        return _Waiter(priority, seq, loop.create_future(), key, now, request, wanted, outcome)

    async def _acquire(self, waiter: _Waiter) -> _Grant:
        if self._free > 0 and not self._heap and self._may_start(waiter, time.monotonic()):
            self._free -= 1
            return _Grant.RUN
        if waiter.priority == Priority.INTERIM and waiter.key is not None:
            older = self._interim.pop(waiter.key, None)
            if older is not None and not older.future.done():
                older.future.set_result(_Grant.SKIP)
            self._interim[waiter.key] = waiter
        heapq.heappush(self._heap, waiter)
        self._metrics.asr_queue.set(len(self._heap))
        if self._free > 0:
            self._dispatch()  # held back by an imminent final, or the queue is stale
        try:
            return await waiter.future
        except asyncio.CancelledError:
            future = waiter.future
            if future.done() and not future.cancelled() and future.result() is _Grant.RUN:
                self._release()  # granted just as we were cancelled: hand the slot on
            raise
        finally:
            if self._interim.get(waiter.key) is waiter:
                del self._interim[waiter.key]

    def _may_start(self, waiter: _Waiter, now: float) -> bool:
        """Finals always; the rest not while a final is imminent on some leg."""
        if waiter.priority <= Priority.AGENT_FINAL:
            return True
        for leg, deadline in list(self._imminent.items()):
            if deadline > now:
                return False
            del self._imminent[leg]
        return True

    def _stale(self, waiter: _Waiter, now: float) -> bool:
        if waiter.priority != Priority.INTERIM:
            return False
        too_old = now - waiter.queued_at > self._max_wait
        return too_old or (waiter.wanted is not None and not waiter.wanted())

    def _companions(self, leader: _Waiter) -> list[_Waiter]:
        """Waiting decodes of the leader's kind, best first, that join its batch."""
        kind = Priority(leader.priority).kind
        now = time.monotonic()
        taken: list[_Waiter] = []
        keep: list[_Waiter] = []
        for waiter in sorted(self._heap):
            if waiter.future.done():
                continue
            if (
                len(taken) < self._max_batch - 1
                and waiter.request is not None
                and Priority(waiter.priority).kind == kind
                and not self._stale(waiter, now)
            ):
                waiter.future.set_result(_Grant.JOINED)
                taken.append(waiter)
            else:
                keep.append(waiter)
        if taken:
            self._heap = keep
            heapq.heapify(self._heap)
            self._metrics.asr_queue.set(len(self._heap))
        return taken

    def _release(self) -> None:
        self._free += 1
        self._dispatch()

    def _dispatch(self) -> None:
        now = time.monotonic()
        while self._free > 0 and self._heap:
            waiter = self._heap[0]
            if waiter.future.done():
                heapq.heappop(self._heap)  # replaced or cancelled
                continue
            if self._stale(waiter, now):
                heapq.heappop(self._heap)
                waiter.future.set_result(_Grant.SKIP)
                continue
            if not self._may_start(waiter, now):
                break  # the head is an interim or a file: hold them all for the final
            heapq.heappop(self._heap)
            self._free -= 1
            waiter.future.set_result(_Grant.RUN)
        self._metrics.asr_queue.set(len(self._heap))
