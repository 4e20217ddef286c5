"""A real model with a gate: makes "a turn still in flight when the next arrives" deterministic."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from copilot.models.embedding import Embedder, Vectors


class HeldEmbedder:
    """The real embedder; a query containing ``trigger`` waits for ``release`` (a slow turn)."""

    def __init__(self, inner: Embedder, trigger: str) -> None:
        self.name, self.dim = inner.name, inner.dim
        self.release = threading.Event()
        self._inner = inner
        self._trigger = trigger

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if any(self._trigger in text for text in texts):
            assert self.release.wait(30)
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._inner.embed_passages(texts)

    def query_pieces(self, text: str) -> list[str]:
        return self._inner.query_pieces(text)
