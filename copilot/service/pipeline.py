"""One customer turn in, up to three evidence-backed suggestions out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import anyio.to_thread
import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz

from copilot.domain import (
    DialogueTurn,
    Evidence,
    SearchFilters,
    SearchHit,
    Suggestion,
    SuggestionKind,
)
from copilot.kb import KnowledgeBase
from copilot.kb.query import RetrievalQuery
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.service.memory import TeamMemory
from copilot.settings import Settings
from copilot.suggest.draft import clarifying_question, grounded_answer

SNIPPET_CHARS = 400


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A turn's language, query and embeddings: the part that is batched across conversations."""

    text: str
    language: str
    query: RetrievalQuery
    turn_vector: NDArray[np.float32] | None  # None: not needed (no carried entity, empty memory)
    query_vector: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """What the pipeline decided for one customer turn."""

    turn_id: str
    language: str
    confidence: float
    kb_gap: bool
    latency_ms: float
    suggestions: tuple[Suggestion, ...]


def _evidence(hits: Sequence[SearchHit]) -> tuple[Evidence, ...]:
    return tuple(
        Evidence(h.doc_id, h.title, h.section, h.text[:SNIPPET_CHARS], round(h.score, 4), h.source)
        for h in hits
    )


class TurnPipeline:
    """Detect the language, retrieve, and draft grounded / team-memory / clarifying suggestions.

    The CPU-bound part runs in a worker thread under a `CapacityLimiter`, so the event loop keeps
    serving other conversations.
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        embedder: Embedder,
        memory: TeamMemory,
        detector: LanguageDetector,
        settings: Settings,
        limiter: anyio.CapacityLimiter,
    ) -> None:
        self._kb = kb
        self._embedder = embedder
        self._memory = memory
        self._detector = detector
        self._s = settings
        self._limiter = limiter
        # Embedding runs outside the CPU limiter: requests from many conversations must reach the
        # micro-batcher together for it to form batches.
        self._embed_limiter = anyio.CapacityLimiter(max(settings.micro_batch_max, 1))

    async def suggest(
        self,
        turns: Sequence[DialogueTurn],
        turn_id: str,
        client: str | None,
        language: str | None,
    ) -> TurnOutcome:
        """Suggestions for the last customer turn of ``turns`` (already redacted text)."""
        start = time.perf_counter()
        turns = list(turns)
        prepared = await anyio.to_thread.run_sync(
            self._prepare, turns, language, limiter=self._embed_limiter
        )
        outcome = await anyio.to_thread.run_sync(
            self._compute, prepared, turn_id, client, limiter=self._limiter
        )
        latency = (time.perf_counter() - start) * 1000
        return TurnOutcome(
            outcome.turn_id,
            outcome.language,
            outcome.confidence,
            outcome.kb_gap,
            latency,
            outcome.suggestions,
        )

    def _off_topic(
        self,
        text: str,
        hits: Sequence[SearchHit],
        filters: SearchFilters,
        turn_vector: NDArray[np.float32] | None,
    ) -> bool:
        """Whether a turn is off topic on its own words, although carried entities found hits.

        A carried product name lifts any question towards that product's documents, so the turn
        alone is compared with the hits: by the reranker when there is one (one cheap embedding),
        else by a search of the turn alone.
        """
        relevance = self._kb.relevance(text, hits)
        if relevance is not None:
            return max(relevance) < self._s.off_topic_relevance
        if turn_vector is None:
            turn_vector = self._embedder.embed_queries([text])[0]
        alone = self._kb.search(text, k=1, filters=filters, query_vector=turn_vector)
        return not alone or alone[0].score < self._s.off_topic_score

    def _confidence(self, score: float) -> float:
        s = self._s
        span = s.confidence_ceiling - s.confidence_floor
        return round(min(max((score - s.confidence_floor) / span, 0.0), 1.0), 3)

    def _prepare(self, turns: list[DialogueTurn], language: str | None) -> _Prepared:
        text = turns[-1].text
        lang = self._detector.detect(text) or language or self._s.default_language
        query = self._kb.query_for(turns)
        # The turn on its own is embedded too only when team memory may need it (memory holds
        # customer turns as they were typed); both go in one embedding call.
        alone = query.text != text and len(self._memory) > 0
        vectors = self._embedder.embed_queries([query.text, text] if alone else [query.text])
        turn_vector = vectors[-1] if alone or query.text == text else None
        return _Prepared(text, lang, query, turn_vector, vectors[0])

    def _compute(self, prepared: _Prepared, turn_id: str, client: str | None) -> TurnOutcome:
        text, lang = prepared.text, prepared.language
        turn_vector, query_vector = prepared.turn_vector, prepared.query_vector
        carried = prepared.query.text != text
        filters = SearchFilters(client=client)
        hits = self._kb.search(
            prepared.query, k=self._s.suggestions_k, filters=filters, query_vector=query_vector
        )
        top = hits[0].score if hits else 0.0
        gap = top < self._s.low_confidence_score
        if carried and not gap:
            gap = self._off_topic(text, hits, filters, turn_vector)
        confidence = self._confidence(top)
        evidence = _evidence(hits)
        out: list[Suggestion] = []

        def add(
            text: str,
            kind: SuggestionKind,
            conf: float,
            ev: tuple[Evidence, ...],
            origin: str | None = None,
        ) -> None:
            out.append(Suggestion(uuid.uuid4().hex, turn_id, text, kind, conf, lang, ev, origin))

        if gap:
            add(clarifying_question(hits, lang), SuggestionKind.CLARIFY, confidence, evidence)
        draft = grounded_answer(text, hits, lang)
        if draft is not None:
            used = _evidence(draft.used) + tuple(
                e for e in evidence if e.doc_id != draft.used[0].doc_id
            )
            source_lang = draft.used[0].language
            # No translation model ships on PyPI: a body quoted from a passage in another language
            # says so, for the agent to translate before sending.
            note = f"kb passage in {source_lang}" if source_lang and source_lang != lang else None
            add(draft.text, SuggestionKind.GROUNDED, confidence, used, note)
        match = (
            self._memory.best(turn_vector, client, lang, self._s.memory_min_similarity)
            if turn_vector is not None
            else None
        )
        if match is not None and not (
            draft is not None and fuzz.ratio(match.item.reply_text, draft.text) >= 90
        ):
            origin = f"team memory: {match.item.agent_id}, suggestion {match.item.suggestion_id}"
            add(
                match.item.reply_text, SuggestionKind.MEMORY, round(match.similarity, 3), (), origin
            )
        return TurnOutcome(turn_id, lang, confidence, gap, 0.0, tuple(out[: self._s.suggestions_k]))
