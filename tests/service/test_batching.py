"""Micro-batching merges concurrent query embeddings without changing any result."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from copilot.models.embedding import Embedder
from copilot.service.batching import MicroBatchEmbedder

QUERIES = [f"¿cómo bloqueo mi tarjeta número {i}?" for i in range(24)]


def test_concurrent_queries_share_batches_and_get_their_own_vectors(e5: Embedder) -> None:
    expected = e5.embed_queries(QUERIES)
    batcher = MicroBatchEmbedder(e5, max_batch=8, max_wait_ms=20)
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            rows = list(pool.map(lambda q: batcher.embed_queries([q])[0], QUERIES))
    finally:
        batcher.close()
    np.testing.assert_allclose(np.vstack(rows), expected, atol=1e-5)
    assert batcher.texts == len(QUERIES)
    assert batcher.batches < len(QUERIES)


def test_a_failing_batch_raises_in_every_waiting_caller(e5: Embedder) -> None:
    class Broken:
        name, dim = "broken", e5.dim

        def embed_queries(self, texts: object) -> np.ndarray:
            raise RuntimeError("model crashed")

        def embed_passages(self, texts: object) -> np.ndarray:
            raise RuntimeError("model crashed")

    batcher = MicroBatchEmbedder(Broken(), max_batch=4, max_wait_ms=5)
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(batcher.embed_queries, [q]) for q in QUERIES[:4]]
        errors = [f.exception() for f in futures]
    finally:
        batcher.close()
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert batcher.embed_queries([]).shape == (0, e5.dim)
