"""Subjects learned from the KB's own titles, for a second pass over a follow-up's hits.

Many passages often share one subject (a product, a place): "ACORN GUEST HOUSE (hotel) - FAQ: Is
there parking?" and ten more titles about that place. A follow-up's dense query mixes in the
dialogue, which finds the subject but also drags in facts the earlier turns asked about. So within
the best hit's subject, the hits are reordered by what the turn itself asks as well.

A subject is the most distinctive word of a title (the one the fewest titles carry), when at most
``max_docs`` titles carry it; no title format is assumed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from copilot.domain import DocumentInfo
from copilot.textnorm import fold

SubjectKey = Callable[[str], float]
"""A document's score for the reordering (higher first)."""


def _words(title: str) -> set[str]:
    return {
        w for w in "".join(c if c.isalnum() else " " for c in fold(title)).split() if len(w) > 2
    }


class TitleSubjects:
    """Which documents share a subject with a given one (built once per KB snapshot)."""

    def __init__(self, documents: Iterable[DocumentInfo], max_docs: int) -> None:
        words = {d.doc_id: _words(d.title) for d in documents}
        carried = Counter(w for ws in words.values() for w in ws)
        subjects: dict[str, set[str]] = {}
        self._subject: dict[str, str] = {}
        for doc_id, ws in words.items():
            shared = sorted(w for w in ws if carried[w] >= 2)
            if shared:
                rarest = min(shared, key=lambda w: carried[w])
                if carried[rarest] <= max_docs:
                    self._subject[doc_id] = rarest
                    subjects[rarest] = set()
        for doc_id, ws in words.items():
            for w in ws & subjects.keys():
                subjects[w].add(doc_id)
        self._docs = {w: frozenset(d) for w, d in subjects.items()}

    def group(self, doc_id: str) -> frozenset[str]:
        """The documents sharing this document's subject (itself included); empty without one."""
        subject = self._subject.get(doc_id)
        return self._docs[subject] if subject is not None else frozenset()


def reorder_within(
    ranked: Sequence[tuple[str, float]], group: frozenset[str], key: SubjectKey
) -> list[tuple[str, float]]:
    """Reorder the group's documents among the places they hold, best ``key`` first.

    ``ranked`` is (doc id, score) best first, with the group's documents that were not ranked
    appended by the caller. Places and their scores stay: documents of other subjects keep their
    ranks, and scores stay monotone, so confidence features read the same.
    """
    places = [i for i, (doc_id, _) in enumerate(ranked) if doc_id in group]
    members = sorted((ranked[i][0] for i in places), key=lambda d: -key(d))
    out = list(ranked)
    for i, doc_id in zip(places, members, strict=True):
        out[i] = (doc_id, ranked[i][1])
    return out
