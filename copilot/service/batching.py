"""Micro-batching of query embeddings across concurrent conversations."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from copilot.models.embedding import Embedder, Vectors
from copilot.models.query_window import QueryPlan

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Request:
    """One caller's texts: pieces still to embed, and where their vectors go."""

    plan: QueryPlan
    short: list[int]  # pieces of texts read whole: batched with other callers'
    long: deque[int]  # pieces of long texts: each embedded alone
    vectors: list[Vectors | None]
    done: Future[Vectors] = field(default_factory=Future)

    @classmethod
    def of(cls, plan: QueryPlan) -> _Request:
        long = plan.long_pieces
        return cls(
            plan,
            [i for i in range(len(plan.pieces)) if i not in long],
            deque(sorted(long)),
            [None] * len(plan.pieces),
        )

    def fill(self, index: int, vector: Vectors) -> None:
        """Store a piece's vector; the caller is answered once every piece has one."""
        self.vectors[index] = vector
        rows = [v for v in self.vectors if v is not None]
        if len(rows) == len(self.vectors) and not self.done.done():
            self.done.set_result(self.plan.join(np.vstack(rows)))

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


class MicroBatchEmbedder:
    """An `Embedder` whose query calls from many threads are merged into small batches.

    Worker threads (``workers``, one per core) each take the first waiting request, gather
    whatever else is queued or arrives within ``max_wait_ms`` (up to ``max_batch`` texts), embed
    them in one call and hand each caller its rows. With no wait, batches form by themselves under
    load: what queued while a batch ran is the next. One worker capped the service at one core:
    the onnx runtime reads a query on one thread (two threads gave the same CPU per text, parallel
    calls half the wall time), so under load queries queued behind it while the other core idled.
    Passages (ingest) go straight through.

    A text longer than the inner embedder's window is read in pieces (`Embedder.query_pieces`),
    and those are never merged with other texts: each runs alone, one after each batch of short
    texts (or back to back when none waits). A short query therefore waits for at most one
    piece of a long one, never for the whole long text, and a stream of short queries cannot
    starve a long one.
    """

    def __init__(
        self, inner: Embedder, max_batch: int = 16, max_wait_ms: float = 0.0, workers: int = 1
    ) -> None:
        self.name = inner.name
        self.dim = inner.dim
        self._inner = inner
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._counts = threading.Lock()
        self.batches = 0
        self.texts = 0
        self._workers = [
            _Worker(self._queue, self._embed, max_batch, max_wait_ms / 1000, f"embed-batcher-{i}")
            for i in range(max(1, workers))
        ]

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`; blocks until every piece of these texts is embedded."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # Tokens are counted here, in the caller's thread, not in the worker's.
        request = _Request.of(QueryPlan.of(texts, self._inner.query_pieces))
        self._queue.put(request)
        return request.done.result()

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_passages` (not batched across callers: ingest batches itself)."""
        return self._inner.embed_passages(texts)

    def query_pieces(self, text: str) -> list[str]:
        """See `Embedder.query_pieces` (the inner embedder's)."""
        return self._inner.query_pieces(text)

    def close(self) -> None:
        """Stop the workers after the requests already queued."""
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.thread.join(timeout=5)

    def _embed(self, texts: list[str]) -> Vectors:
        vectors = self._inner.embed_queries(texts)
        with self._counts:
            self.batches += 1
            self.texts += len(texts)
        return vectors


class _Worker:
    """One embedding thread of a `MicroBatchEmbedder`: the requests it took from the shared
    queue, in the batches and turns described there."""

    def __init__(
        self,
        requests: queue.Queue[_Request | None],
        embed: Callable[[list[str]], Vectors],
        max_batch: int,
        max_wait: float,
        name: str,
    ) -> None:
        self._queue = requests
        self._embed = embed
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._short: deque[_Request] = deque()
        self._long: deque[_Request] = deque()
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _admit(self, request: _Request | None) -> bool:
        """Take a request; False at a stop mark this worker cannot use (another worker's)."""
        if request is None:
            if self._stopping:
                self._queue.put(None)  # one mark per worker: hand this one on
                return False
            self._stopping = True
            return True
        if request.short:
            self._short.append(request)
        if request.long:
            self._long.append(request)
        return True

    def _drain(self) -> None:
        """Admit every request queued now, without waiting."""
        while True:
            try:
                if not self._admit(self._queue.get_nowait()):
                    return
            except queue.Empty:
                return

    def _gather(self) -> list[_Request]:
        """Short requests for one batch: those waiting, and any arriving within ``max_wait``."""
        batch = [self._short.popleft()]
        size = len(batch[0].short)
        deadline = time.monotonic() + self._max_wait
        while size < self._max_batch:
            if not self._short:
                timeout = deadline - time.monotonic()
                if self._stopping or timeout <= 0:
                    break
                try:
                    self._admit(self._queue.get(timeout=timeout))
                except queue.Empty:
                    break
                continue
            batch.append(self._short.popleft())
            size += len(batch[-1].short)
        return batch

    def _run_short(self) -> None:
        batch = self._gather()
        texts = [r.plan.pieces[i] for r in batch for i in r.short]
        try:
            vectors = self._embed(texts)
        except Exception as exc:  # handed to every waiting caller, not swallowed
            for r in batch:
                r.fail(exc)
            return
        row = 0
        for r in batch:
            for i in r.short:
                r.fill(i, vectors[row])
                row += 1

    def _run_long(self) -> None:
        request = self._long.popleft()
        if request.done.done():  # a piece of it failed: drop the rest
            return
        index = request.long.popleft()
        if request.long:
            self._long.append(request)  # round robin between long texts
        try:
            vector = self._embed([request.plan.pieces[index]])[0]
        except Exception as exc:  # handed to the caller, not swallowed
            request.fail(exc)
            return
        request.fill(index, vector)

    def _run(self) -> None:
        while True:
            if not self._short and not self._long:
                if self._stopping:
                    return
                self._admit(self._queue.get())
                continue
            self._drain()
            if self._short:
                self._run_short()
            self._drain()
            if self._long:
                self._run_long()
