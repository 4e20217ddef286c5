"""Second-stage scorers that rescore a short list of candidate passages for one query."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from copilot.errors import ModelNotFoundError
from copilot.models.embedding import Embedder, load_embedder
from copilot.models.loader import ModelSpec, force_offline

Scores = NDArray[np.float32]


class Reranker(Protocol):
    """Scores how well each passage answers the query; higher is better, model's own scale."""

    name: str

    def score(self, query: str, passages: Sequence[str]) -> Scores:
        """Return one score per passage, shape ``(len(passages),)``."""
        ...

    def warm(self, passages: Sequence[str]) -> None:
        """Prepare for these passages ahead of the first query (a no-op where nothing is cached)."""
        ...


class EmbeddingReranker:
    """Rescores with the cosine of a second embedding model.

    No multilingual cross-encoder ships on PyPI, so by default a second, independently trained
    embedder gives the first stage a second opinion; its errors are mostly uncorrelated with the
    first model's.
    """

    def __init__(self, embedder: Embedder, cache_size: int = 50_000) -> None:
        self.name = embedder.name
        self._embedder = embedder
        # Passages repeat across queries while queries do not: caching passage vectors leaves one
        # query
        # embedding per call, which keeps reranking within the latency budget.
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _passage_vectors(self, passages: Sequence[str]) -> NDArray[np.float32]:
        with self._lock:
            missing = list(dict.fromkeys(p for p in passages if p not in self._cache))
        fresh = self._embedder.embed_passages(missing)
        with self._lock:
            for text, vec in zip(missing, fresh, strict=True):
                self._cache[text] = vec
            rows = []
            for p in passages:
                rows.append(self._cache[p])
                self._cache.move_to_end(p)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return np.vstack(rows)

    def warm(self, passages: Sequence[str]) -> None:
        """Embed and cache the passages not cached yet, in batches."""
        for start in range(0, len(passages), 64):
            self._passage_vectors(passages[start : start + 64])

    def score(self, query: str, passages: Sequence[str]) -> Scores:
        """See `Reranker.score`; scores are cosines in [-1, 1]."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        q = self._embedder.embed_queries([query])[0]
        scores: Scores = (self._passage_vectors(passages) @ q).astype(np.float32)
        return scores


class CrossEncoderReranker:
    """A local sentence-transformers ``CrossEncoder`` folder that a user brings."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        force_offline()
        import torch
        from sentence_transformers import CrossEncoder

        if spec.path is None:
            raise ModelNotFoundError(f"model {spec.name!r}: a cross-encoder needs a folder")
        torch.set_num_threads(threads)
        self.name = spec.name
        self._model = CrossEncoder(str(spec.path), device="cpu", local_files_only=True)

    def warm(self, passages: Sequence[str]) -> None:
        """Nothing to prepare: a cross-encoder reads query and passage together."""

    def score(self, query: str, passages: Sequence[str]) -> Scores:
        """See `Reranker.score`; scores are the model's logits or probabilities."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        pairs = [(query, p) for p in passages]
        out = self._model.predict(pairs, show_progress_bar=False, convert_to_numpy=True)
        scores: Scores = np.asarray(out, dtype=np.float32).reshape(-1)
        return scores


def load_reranker(spec: ModelSpec, threads: int = 2, batch_size: int = 32) -> Reranker:
    """Load a reranker: a cross-encoder folder, or any embedder used as a second opinion.

    Raises:
        ModelNotFoundError: The model's files are missing or cannot be loaded.
    """
    if spec.backend == "cross-encoder":
        try:
            return CrossEncoderReranker(spec, threads)
        except (OSError, ImportError, ValueError) as exc:
            raise ModelNotFoundError(f"model {spec.name!r} could not be loaded: {exc}") from exc
    return EmbeddingReranker(load_embedder(spec, threads, batch_size))
