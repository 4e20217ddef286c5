"""BM25 over passages (bm25s), with a tokenizer for Spanish, English and Portuguese chat text."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
from numpy.typing import NDArray

from copilot.textnorm import tokenize


class LexicalIndex:
    """A BM25 index whose rows are chunk ids; rebuilt in memory when the KB changes."""

    def __init__(self, ids: NDArray[np.int64], texts: Sequence[str]) -> None:
        self._ids = ids.astype(np.int64)
        self._order = np.argsort(self._ids, kind="stable")
        self._sorted = self._ids[self._order]
        self._bm25 = bm25s.BM25()
        if len(texts):
            self._bm25.index([tokenize(t) for t in texts], show_progress=False)

    def search(
        self, query: str, k: int, allowed: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` chunk ids by positive BM25 score, optionally only among ``allowed``."""
        tokens = (
            [t for t in tokenize(query) if t in self._bm25.vocab_dict] if len(self._ids) else []
        )
        if not tokens or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        if allowed is not None:
            scores = np.where(self._rows_mask(allowed), scores, 0.0).astype(np.float32)
        if k < len(scores):  # the k best without sorting every passage's score
            kth = -np.partition(-scores, k - 1)[k - 1]
            head = np.flatnonzero(scores >= kth)  # ties at the cut too: first rows win, as before
            top = head[np.argsort(-scores[head], kind="stable")][:k]
        else:
            top = np.argsort(-scores, kind="stable")
        top = top[scores[top] > 0]
        return scores[top], self._ids[top]

    def _rows_mask(self, allowed: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Rows of the chunk ids in ``allowed`` (ids not indexed here are ignored)."""
        at = np.searchsorted(self._sorted, allowed)
        found = at < len(self._sorted)
        found[found] = self._sorted[at[found]] == allowed[found]
        mask = np.zeros(len(self._ids), dtype=bool)
        mask[self._order[at[found]]] = True
        return mask
