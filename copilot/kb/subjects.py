"""Subjects learned from the KB's own titles, for a second pass over a follow-up's hits.

Many passages often share one subject (a product, a place): "ACORN GUEST HOUSE (hotel) - FAQ: Is
there parking?" and ten more titles about that place. A follow-up's dense query mixes in the
dialogue, which finds the subject but also drags in facts the earlier turns asked about. So within
the best hit's subject, the hits are reordered by what the turn itself asks as well.

A subject is the most distinctive word of a title (the one the fewest titles carry), when at most
``max_docs`` titles carry it; no title format is assumed. A follow-up whose dialogue named a
subject last (often in the agent's words, turns ago) has that subject's documents lifted
(`TitleSubjects.mentioned`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from wordfreq import zipf_frequency

from copilot.domain import DocumentInfo
from copilot.textnorm import fold

SubjectKey = Callable[[str], float]
"""A document's score for the reordering (higher first)."""


def _everyday(word: str, language: str) -> float:
    """How common ``word`` is in ``language`` (wordfreq's Zipf scale); infinite for a language
    wordfreq has no list for, so that such a KB's words name nothing rather than everything."""
    try:
        return float(zipf_frequency(word, language.split("-")[0].lower()))
    except LookupError:
        return math.inf


def _words(title: str) -> set[str]:
    return {
        w for w in "".join(c if c.isalnum() else " " for c in fold(title)).split() if len(w) > 2
    }


class TitleSubjects:
    """Which documents share a subject with a given one (built once per KB snapshot)."""

    def __init__(
        self, documents: Iterable[DocumentInfo], max_docs: int, name_zipf: float = 3.5
    ) -> None:
        documents = list(documents)
        words = {d.doc_id: _words(d.title) for d in documents}
        carriers: dict[str, set[str]] = {}
        for doc_id, ws in words.items():
            for w in ws:
                carriers.setdefault(w, set()).add(doc_id)
        self._subject: dict[str, str] = {}
        for doc_id, ws in words.items():
            shared = sorted(w for w in ws if len(carriers[w]) >= 2)
            if shared:
                rarest = min(shared, key=lambda w: len(carriers[w]))
                if len(carriers[rarest]) <= max_docs:
                    self._subject[doc_id] = rarest
        self._docs = {w: frozenset(carriers[w]) for w in set(self._subject.values())}
        # A subject's names: the title words carried by exactly its documents ("warkworth" and
        # "inn" for the Warkworth Inn's titles) that are rare in everyday language.
        by_docs = {docs: w for w, docs in self._docs.items()}
        languages = {d.doc_id: d.language or "en" for d in documents}
        self._names = {
            w: by_docs[docs]
            for w, ds in carriers.items()
            if (docs := frozenset(ds)) in by_docs
            and all(_everyday(w, lang) < name_zipf for lang in {languages[d] for d in docs})
        }

    def mentioned(self, texts: Iterable[str]) -> frozenset[str]:
        """The documents about the subjects named in the first of ``texts`` that names any.

        ``texts`` run most recent first, so the subject last named wins; empty when none is.
        A subject is named by a word that only its titles carry and that is rarer than
        ``name_zipf`` in everyday use of each of its documents' languages (wordfreq's Zipf scale,
        where 3 is once per million words). Ordinary words are subjects too when a title has
        nothing rarer ("entrance", "great", "tell"), and a turn using them names nothing.
        """
        for text in texts:
            named = {self._names[w] for w in _words(text) if w in self._names}
            if named:
                return frozenset().union(*(self._docs[s] for s in named))
        return frozenset()

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
