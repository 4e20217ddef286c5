"""Micro-batching of query embeddings across concurrent conversations."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from copilot.models.embedding import Embedder, Vectors

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Request:
    texts: Sequence[str]
    done: Future[Vectors] = field(default_factory=Future)


class MicroBatchEmbedder:
    """An `Embedder` whose query calls from many threads are merged into small batches.

    Embedding one short query costs nearly as much as embedding several: the model's per-call
    overhead dominates. A worker thread takes the first waiting request, gathers whatever else
    is queued or arrives within ``max_wait_ms`` (up to ``max_batch`` texts), embeds them in one
    call and hands each caller its rows. With no wait, batches form by themselves under load:
    what queued while one batch ran is the next. Passages (ingest) go straight through.
    """

    def __init__(self, inner: Embedder, max_batch: int = 16, max_wait_ms: float = 0.0) -> None:
        self.name = inner.name
        self.dim = inner.dim
        self._inner = inner
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()
        self.batches = 0
        self.texts = 0

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`; blocks until the batch holding these texts is embedded."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        request = _Request(texts)
        self._queue.put(request)
        return request.done.result()

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_passages` (not batched across callers: ingest batches itself)."""
        return self._inner.embed_passages(texts)

    def close(self) -> None:
        """Stop the worker after the requests already queued."""
        self._queue.put(None)
        self._worker.join(timeout=5)

    def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        batch = [first]
        size = len(first.texts)
        deadline = time.monotonic() + self._max_wait
        while size < self._max_batch:
            timeout = deadline - time.monotonic()
            try:
                nxt = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return batch, True
            batch.append(nxt)
            size += len(nxt.texts)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = self._gather(first)
            texts = [t for r in batch for t in r.texts]
            try:
                vectors = self._inner.embed_queries(texts)
            except Exception as exc:  # handed to every waiting caller, not swallowed
                for r in batch:
                    r.done.set_exception(exc)
                continue
            self.batches += 1
            self.texts += len(texts)
            row = 0
            for r in batch:
                r.done.set_result(vectors[row : row + len(r.texts)])
                row += len(r.texts)
