"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, score-fused, then reranked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from copilot.domain import NO_FILTERS, DocumentInfo, SearchFilters, SearchHit
from copilot.kb.chunk import passage_text
from copilot.kb.follow_up import SubjectPasses
from copilot.kb.fusion import convex, rrf
from copilot.kb.index import FaissIndex
from copilot.kb.lexical import LexicalIndex
from copilot.kb.query import RetrievalQuery, dense_vector
from copilot.kb.subjects import TitleSubjects
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings


class RetrievalMode(StrEnum):
    """Which stages run; the evaluation compares them."""

    DENSE = "dense"
    LEXICAL = "bm25"
    HYBRID = "hybrid"
    RERANK = "hybrid+rerank"


@dataclass(frozen=True, slots=True)
class RetrievalParams:
    """Candidate list sizes and score-fusion weights (from settings).

    The fused score is ``(1 - lexical_weight) * cosine + lexical_weight * min(bm25 / bm25_scale,
    1)``, plus ``entity_boost`` times the weight of documents about an entity of the conversation,
    plus ``rerank_weight`` times the reranker score. Scores are fused rather than ranks: reciprocal
    rank fusion lets a same-language keyword match outrank the right answer written in another
    language, because it ignores how weak that match is. ``fusion="rrf"`` selects reciprocal rank
    fusion instead (``rrf_k``), rescaled so that a passage ranked first by both lists scores 1.
    The dense query is the turn's embedding mixed with the dialogue context's, the context
    weighing ``context_weight`` (`dense_vector`).
    """

    dense_candidates: int = 50
    lexical_candidates: int = 50
    rerank_candidates: int = 20
    lexical_weight: float = 0.1
    fusion: str = "score"
    rrf_k: int = 60
    bm25_scale: float = 20.0
    entity_boost: float = 0.02
    rerank_weight: float = 0.3
    context_weight: float = 0.7
    subject_turn_weight: float = 1.0
    subject_max_docs: int = 25
    subject_mention_boost: float = 0.02
    subject_name_zipf: float = 3.5

    @classmethod
    def from_settings(cls, settings: Settings) -> RetrievalParams:
        """The retrieval fields of the settings."""
        names = {f.name for f in fields(cls)}
        return cls(**{name: getattr(settings, name) for name in names})


_FILTER_MEMO = 64
"""Distinct filters whose chunk ids a table keeps (the service filters by client: a few)."""


@dataclass(frozen=True, slots=True)
class PassageTable:
    """Every indexed passage, row-aligned, with its document's metadata for filtering and hits."""

    ids: NDArray[np.int64]
    doc_ids: Sequence[str]
    sections: Sequence[str]
    texts: Sequence[str]
    docs: dict[str, DocumentInfo]
    _memo: dict[SearchFilters, NDArray[np.int64]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def allowed(self, filters: SearchFilters) -> NDArray[np.int64] | None:
        """Chunk ids that pass the filters, or None when there are no filters.

        Kept per filters (callers must not change the array): the table never changes, and
        working them out walks every passage, 17 ms of CPU a turn at 100k passages.
        """
        if filters.is_empty:
            return None
        known = self._memo.get(filters)
        if known is not None:
            return known
        wanted_tags = set(filters.tags)
        ok_docs = {
            d.doc_id
            for d in self.docs.values()
            if (filters.client is None or d.client == filters.client)
            and (filters.language is None or d.language == filters.language)
            and (not wanted_tags or wanted_tags & set(d.tags))
        }
        mask = np.fromiter((d in ok_docs for d in self.doc_ids), dtype=bool, count=len(self.ids))
        allowed: NDArray[np.int64] = self.ids[mask]
        if len(self._memo) >= _FILTER_MEMO:
            self._memo.clear()
        self._memo[filters] = allowed
        return allowed


class Retriever:
    """Searches one KB snapshot; immutable, so a rebuilt KB swaps in a new retriever."""

    def __init__(
        self,
        table: PassageTable,
        dense: FaissIndex,
        lexical: LexicalIndex,
        embedder: Embedder,
        reranker: Reranker | None,
        params: RetrievalParams,
    ) -> None:
        self._table = table
        self._row = {int(c): i for i, c in enumerate(table.ids)}
        chunks: dict[str, list[int]] = {}
        for cid, doc_id in zip(table.ids.tolist(), table.doc_ids, strict=True):
            chunks.setdefault(doc_id, []).append(cid)
        self._follow_up = SubjectPasses(
            TitleSubjects(table.docs.values(), params.subject_max_docs, params.subject_name_zipf),
            dense,
            chunks,
            self._doc_id,
            1 - params.lexical_weight,
            params.subject_turn_weight,
            params.subject_mention_boost,
        )
        self._dense = dense
        self._lexical = lexical
        self._embedder = embedder
        self._reranker = reranker
        self._p = params

    def search(
        self,
        query: RetrievalQuery,
        k: int = 5,
        filters: SearchFilters = NO_FILTERS,
        mode: RetrievalMode = RetrievalMode.RERANK,
        query_vector: NDArray[np.float32] | None = None,
        turn_vector: NDArray[np.float32] | None = None,
    ) -> list[SearchHit]:
        """Best passages for the query, one per document, best first.

        ``query_vector`` is the dense query (`dense_vector`) and ``turn_vector`` the embedding of
        the turn alone, when the caller already has them (the service embeds each turn once and
        shares the turn's vector with team memory); without ``turn_vector`` the query vector
        stands for it.

        Scores are fused (see `RetrievalParams`): roughly a cosine, comparable across queries of one
        KB.
        """
        if not query.text.strip() or not len(self._table.ids):
            return []
        allowed = self._table.allowed(filters)
        p = self._p
        # BM25 and the reranker read what the dense query reads: a long turn's head and tail.
        # Their cost grows with the length too, and the middle of a long message rarely asks.
        text = " ".join(self._embedder.query_pieces(query.text))
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        tv: NDArray[np.float32] | None = None
        if mode is not RetrievalMode.LEXICAL:
            if query_vector is None:
                vectors = self._embedder.embed_queries(query.dense_texts)
                qv, tv = dense_vector(vectors, self._p.context_weight), vectors[0]
            else:
                qv, tv = query_vector, turn_vector if turn_vector is not None else query_vector
            scores, ids = self._dense.search(qv, p.dense_candidates, allowed)
            dense = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        # A follow-up's words name the fact asked, not its subject: BM25 sits it out in a hybrid.
        hybrid = mode in (RetrievalMode.HYBRID, RetrievalMode.RERANK)
        if mode is RetrievalMode.LEXICAL or (hybrid and not query.follow_up):
            scores, ids = self._lexical.search(text, p.lexical_candidates, allowed)
            lexical = {
                c: min(s / p.bm25_scale, 1.0)
                for c, s in zip(ids.tolist(), scores.tolist(), strict=True)
            }
        if mode is RetrievalMode.DENSE:
            fused = dense
        elif mode is RetrievalMode.LEXICAL:
            fused = lexical
        elif p.fusion == "rrf":
            fused = rrf(dense, lexical, p.rrf_k)
        else:
            fused = convex(dense, lexical, p.lexical_weight)
        if query.boosts:
            for cid in fused:
                weight = query.boosts.get(self._doc_id(cid), 0.0)
                fused[cid] += p.entity_boost * weight
        elif query.follow_up and tv is not None:
            self._follow_up.lift_named(query.recent, qv, fused, dense, allowed)
        best = self._best_per_document(fused)
        if mode is RetrievalMode.RERANK and self._reranker is not None and best:
            head = best[: p.rerank_candidates]
            rerank = self._reranker.score(text, [self._passage(cid) for cid, _ in head])
            rescored = [
                (cid, s + p.rerank_weight * float(r))
                for (cid, s), r in zip(head, rerank, strict=True)
            ]
            best = sorted(rescored, key=lambda x: -x[1]) + best[len(head) :]
        # Entities the KB names already fix the subject: the pass stands in where none is named.
        if query.follow_up and not query.boosts and tv is not None and best:
            best = self._follow_up.reorder(best, qv, tv, dense, allowed)
        top = best[:k]
        turn_best, turn, dialogue = 0.0, dense, False
        if tv is not None and top:
            dialogue = not np.array_equal(tv, qv)
            if dialogue:  # context was mixed in: the turn's own cosines take two small searches
                turn_best = self._turn_best(tv, allowed)
                turn = self._dense.cosines(tv, np.array([cid for cid, _ in top], dtype=np.int64))
            else:  # the turn alone was the dense query: its cosines are known
                turn_best = max(dense.values(), default=0.0)
        return [
            self._hit(
                cid,
                score,
                dense=dense.get(cid, 0.0),
                lexical=lexical.get(cid, 0.0),
                turn_best=turn_best,
                turn=turn.get(cid, 0.0),
                dialogue=dialogue,
            )
            for cid, score in top
        ]

    def _turn_best(self, turn: NDArray[np.float32], allowed: NDArray[np.int64] | None) -> float:
        """Best cosine of the turn alone with any passage: one more index search, no embedding."""
        scores, _ = self._dense.search(turn, 1, allowed)
        return float(scores[0]) if len(scores) else 0.0

    def warm_reranker(self) -> None:
        """Let the reranker prepare every passage, so no live query pays for a cold one."""
        if self._reranker is not None:
            self._reranker.warm([self._passage(int(cid)) for cid in self._table.ids])

    def _best_per_document(self, fused: dict[int, float]) -> list[tuple[int, float]]:
        seen: set[str] = set()
        out: list[tuple[int, float]] = []
        for cid, score in sorted(fused.items(), key=lambda x: -x[1]):
            doc_id = self._doc_id(cid)
            if doc_id not in seen:
                seen.add(doc_id)
                out.append((cid, score))
        return out

    def _doc_id(self, cid: int) -> str:
        return self._table.doc_ids[self._row[cid]]

    def _passage(self, cid: int) -> str:
        row = self._row[cid]
        doc = self._table.docs[self._table.doc_ids[row]]
        return passage_text(doc.title, self._table.sections[row], self._table.texts[row])

    def _hit(
        self,
        cid: int,
        score: float,
        *,
        dense: float,
        lexical: float,
        turn_best: float,
        turn: float,
        dialogue: bool,
    ) -> SearchHit:
        row = self._row[cid]
        doc = self._table.docs[self._table.doc_ids[row]]
        return SearchHit(
            doc_id=doc.doc_id,
            title=doc.title,
            section=self._table.sections[row],
            text=self._table.texts[row],
            score=float(score),
            source=doc.source,
            chunk_id=cid,
            language=doc.language,
            client=doc.client,
            tags=doc.tags,
            dense=float(dense),
            lexical=float(lexical),
            turn_best=float(turn_best),
            turn=float(turn),
            dialogue=dialogue,
        )
