"""Service test helpers: the real embedder, recording what it is handed."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from copilot.models.embedding import Embedder, Vectors


class Recording:
    """The real embedder, noting the texts of each call; call ``i`` first waits for ``gates[i]``."""

    def __init__(self, inner: Embedder, gates: Sequence[threading.Event] = ()) -> None:
        self.name, self.dim = inner.name, inner.dim
        self.calls: list[list[str]] = []
        self._inner = inner
        self._gates = list(gates)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        if len(self.calls) <= len(self._gates):
            assert self._gates[len(self.calls) - 1].wait(30)
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._inner.embed_passages(texts)

    def query_pieces(self, text: str) -> list[str]:
        return self._inner.query_pieces(text)
