"""Fusing the dense and lexical candidate lists into one score per passage."""

from __future__ import annotations


def convex(
    dense: dict[int, float], lexical: dict[int, float], lexical_weight: float
) -> dict[int, float]:
    """Convex combination of cosine and scaled BM25; a missing cosine counts as the weakest seen."""
    floor = min(dense.values()) if dense else 0.0
    return {
        cid: (1 - lexical_weight) * dense.get(cid, floor) + lexical_weight * lexical.get(cid, 0.0)
        for cid in dense.keys() | lexical.keys()
    }


def rrf(dense: dict[int, float], lexical: dict[int, float], rrf_k: int) -> dict[int, float]:
    """Reciprocal rank fusion of the two lists, scaled so that first in both scores 1."""
    fused: dict[int, float] = {}
    for scores in (dense, lexical):
        ranked = sorted(scores, key=lambda cid: -scores[cid])
        for rank, cid in enumerate(ranked):
            fused[cid] = fused.get(cid, 0.0) + (rrf_k + 1) / (2 * (rrf_k + rank + 1))
    return fused
