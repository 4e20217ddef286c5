"""Group KB-gap questions by meaning: greedy average-linkage clustering of unit query vectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from copilot.storage.analytics_records import GapTurn

_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class GapGroup:
    """Customer questions the KB failed that mean roughly the same thing.

    ``representative`` is the member closest to the group's centroid; ``examples`` are distinct
    texts, newest first; ``reasons`` counts ``kb_gap`` and ``rejected`` turns.
    """

    count: int
    representative: str
    examples: tuple[str, ...]
    languages: tuple[str, ...]
    clients: tuple[str, ...]
    reasons: dict[str, int]
    last_seen: datetime
    turns: tuple[tuple[str, str], ...]


def cluster(vectors: NDArray[np.float32], threshold: float) -> list[list[int]]:
    """Greedy single pass: each vector joins the group it is closest to on average, if close enough.

    A vector's closeness to a group is its mean cosine with the group's members (average
    linkage). The cosine with the group's normalised centroid, used before, grows more lenient as
    a group grows, so a big group drifted into swallowing unrelated questions ("Meu pedido ainda
    não chegou" with "Quero devolver um tênis com defeito"); see ``benchmarks/gap_grouping.py``.

    Args:
        vectors: ``(n, dim)`` L2-normalised rows, in the order to visit them.
        threshold: the mean cosine with a group's members needed to join it.

    Returns:
        Groups of row indices, in order of their first member; each row is in exactly one.
    """
    groups: list[list[int]] = []
    sums = np.zeros((0, vectors.shape[1]), np.float32)
    for i, v in enumerate(vectors):
        if groups:
            sizes = np.array([len(g) for g in groups], np.float32)
            sims = (sums @ v) / sizes
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                groups[best].append(i)
                sums[best] += v
                continue
        groups.append([i])
        sums = np.vstack([sums, v[None, :]])
    return groups


def gap_groups(
    turns: list[GapTurn], vectors: NDArray[np.float32], threshold: float
) -> list[GapGroup]:
    """Group gap turns whose texts' vectors are close; biggest group first, then most recent.

    Args:
        turns: the turns, newest first.
        vectors: ``(len(turns), dim)`` unit query vectors of the turns' texts, same order.
        threshold: see `cluster`.

    Returns:
        One `GapGroup` per cluster.
    """
    out: list[GapGroup] = []
    for members in cluster(vectors, threshold):
        rows = vectors[members]
        centroid = rows.sum(axis=0)
        central = members[int(np.argmax(rows @ centroid))]
        group = [turns[i] for i in members]
        reasons: dict[str, int] = {}
        for g in group:
            reasons[g.reason] = reasons.get(g.reason, 0) + 1
        out.append(
            GapGroup(
                count=len(group),
                representative=turns[central].text,
                examples=tuple(dict.fromkeys(g.text for g in group))[:_EXAMPLES],
                languages=tuple(sorted({g.language for g in group if g.language})),
                clients=tuple(sorted({g.client for g in group if g.client})),
                reasons=reasons,
                last_seen=max(g.created_at for g in group),
                turns=tuple((g.conversation_id, g.turn_id) for g in group),
            )
        )
    out.sort(key=lambda g: (-g.count, -g.last_seen.timestamp()))
    return out
