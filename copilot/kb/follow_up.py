"""The follow-up passes over the KB's title subjects (`subjects`).

A follow-up's dense query mixes in the dialogue: it finds the subject but also drags in facts the
earlier turns asked about, and it forgets a subject named beyond its context. Two passes mend that
without any KB metadata: the subject the dialogue named last is lifted, and the best hit's subject
is reordered by what the turn itself asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from copilot.kb.index import FaissIndex
from copilot.kb.subjects import TitleSubjects, reorder_within

Ranked = list[tuple[int, float]]
"""(chunk id, fused score), best first."""


class SubjectPasses:
    """Both passes over one KB snapshot (immutable, built with its retriever)."""

    def __init__(
        self,
        subjects: TitleSubjects,
        dense: FaissIndex,
        chunks: Mapping[str, Sequence[int]],
        doc_of: Callable[[int], str],
        dense_share: float,
        turn_weight: float,
        mention_boost: float,
    ) -> None:
        self._subjects = subjects
        self._dense = dense
        self._chunks = chunks
        self._doc_of = doc_of
        self._dense_share = dense_share
        self._turn_weight = turn_weight
        self._mention_boost = mention_boost

    def _chunk_ids(
        self, docs: frozenset[str], allowed: NDArray[np.int64] | None
    ) -> NDArray[np.int64]:
        cids = np.fromiter((c for d in docs for c in self._chunks.get(d, ())), dtype=np.int64)
        return cids if allowed is None else np.intersect1d(cids, allowed)

    def lift_named(
        self,
        recent: Sequence[str],
        query: NDArray[np.float32],
        fused: dict[int, float],
        dense: dict[int, float],
        allowed: NDArray[np.int64] | None,
    ) -> None:
        """Add the mention boost to the passages about the subject ``recent`` named last (most
        recent turn first), scoring those the dense search did not rank."""
        docs = self._subjects.mentioned(recent) if self._mention_boost else frozenset()
        if not docs:
            return
        cids = self._chunk_ids(docs, allowed)
        missing = np.array([c for c in cids.tolist() if c not in fused], dtype=np.int64)
        found = self._dense.cosines(query, missing)
        dense.update(found)
        for cid, cosine in found.items():
            fused[cid] = self._dense_share * cosine
        for cid in cids.tolist():
            if cid in fused:
                fused[cid] += self._mention_boost

    def reorder(
        self,
        best: Ranked,
        query: NDArray[np.float32],
        turn: NDArray[np.float32],
        dense: dict[int, float],
        allowed: NDArray[np.int64] | None,
    ) -> Ranked:
        """Reorder the best hit's subject among the ranks it holds by the dialogue's cosine plus
        the turn weight times the turn's own cosine.

        On the public FAQ follow-up set (many passages per place) this lifted recall@1 from 0.64
        to 0.76 at turn weight 1: the dialogue finds the place, the turn says which fact.
        """
        group = self._subjects.group(self._doc_of(best[0][0]))
        if len(group) < 2:
            return best
        cids = self._chunk_ids(group, allowed)
        mixed = self._dense.cosines(query, cids)
        own = self._dense.cosines(turn, cids)
        dense.update(mixed)
        chosen: dict[str, tuple[int, float]] = {}
        for cid in mixed:
            key = self._dense_share * mixed[cid] + self._turn_weight * own.get(cid, 0.0)
            doc_id = self._doc_of(cid)
            if doc_id not in chosen or key > chosen[doc_id][1]:
                chosen[doc_id] = (cid, key)
        original = {self._doc_of(cid): cid for cid, _ in best}
        ranked = [(self._doc_of(cid), score) for cid, score in best]
        floor = best[-1][1]
        ranked += [(d, floor) for d in chosen if d not in original]
        reordered = reorder_within(ranked, frozenset(chosen), lambda d: chosen[d][1])
        return [(chosen[d][0] if d in chosen else original[d], s) for d, s in reordered]
