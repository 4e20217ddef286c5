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
        self._row = {int(cid): row for row, cid in enumerate(self._ids)}
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
        if not tokens:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        if allowed is not None:
            mask = np.zeros(len(self._ids), dtype=bool)
            rows = [self._row[int(c)] for c in allowed if int(c) in self._row]
            mask[rows] = True
            scores = np.where(mask, scores, 0.0).astype(np.float32)
        top = np.argsort(-scores, kind="stable")[:k]
        top = top[scores[top] > 0]
        return scores[top], self._ids[top]
