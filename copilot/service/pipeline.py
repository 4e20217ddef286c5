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

from copilot.domain import DialogueTurn, SearchFilters, Suggestion
from copilot.kb import KnowledgeBase
from copilot.kb.query import RetrievalQuery, dense_vector
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.settings import Settings
from copilot.suggest.confidence import ConfidenceModel
from copilot.suggest.memory import TeamMemory
from copilot.suggest.moves import MoveDetector, MoveMatch, default_moves_path
from copilot.suggest.registry import default_sources
from copilot.suggest.sources import Candidate, SuggestionSource, TurnContext

DETECT_CHARS = 1000
"""Characters of a turn the language detector reads: a turn's language is plain long before, and
the detector's time grows with the length under a lock all conversations share (1.8 ms for 3,000
characters)."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A turn's language, query and embeddings: the part that is batched across conversations."""

    text: str
    language: str
    query: RetrievalQuery
    turn_vector: NDArray[np.float32]  # the turn as typed
    query_vector: NDArray[np.float32]
    detected: str | None = None  # what the detector said, before any fallback
    move: MoveMatch | None = None


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """What the pipeline decided for one customer turn."""

    turn_id: str
    language: str
    confidence: float
    kb_gap: bool
    latency_ms: float
    suggestions: tuple[Suggestion, ...]


class TurnPipeline:
    """Detect the language and move, retrieve, judge confidence, and ask the suggestion sources.

    What to suggest is the sources' business (`copilot.suggest.registry`); the pipeline gathers
    the facts they share, calls them in order and keeps the first ``suggestions_k``. The CPU-bound
    part runs in a worker thread under a `CapacityLimiter`, so the event loop keeps serving other
    conversations.
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
        self._detector = detector
        self._s = settings
        self._limiter = limiter
        # Embedding runs outside the CPU limiter: requests from many conversations must reach the
        # micro-batcher together for it to form batches.
        self._embed_limiter = anyio.CapacityLimiter(max(settings.micro_batch_max, 1))
        self._confidence = ConfidenceModel.load(settings.confidence_model)
        self._moves = MoveDetector(
            settings.moves_path or default_moves_path(),
            embedder,
            settings.move_threshold,
            settings.move_escalation_threshold,
            cache_dir=settings.data_dir / "moves",
        )
        self._sources: tuple[SuggestionSource, ...] = default_sources(settings, self._moves, memory)

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

    def _prepare(self, turns: list[DialogueTurn], language: str | None) -> _Prepared:
        text = turns[-1].text
        detected = self._detector.detect(text[:DETECT_CHARS])
        lang = detected or language or self._s.default_language
        query = self._kb.query_for(turns)
        # One embedding call: the turn as typed (what moves and team memory compare) and, in a
        # dialogue, the recent context that the dense query mixes in.
        vectors = self._embedder.embed_queries(query.dense_texts)
        turn_vector = vectors[0]
        query_vector = dense_vector(vectors, self._s.context_weight)
        move = self._moves.detect(text, turn_vector)
        return _Prepared(text, lang, query, turn_vector, query_vector, detected, move)

    def _context(self, prepared: _Prepared, client: str | None) -> TurnContext:
        """The facts the sources share: a pure move is not searched, any other turn is."""
        move = prepared.move
        if move is not None and move.pure:
            # Short turns often defeat the detector ("Hola", "oi"); the prototype's language then.
            lang = prepared.detected or move.language
            return TurnContext(
                prepared.text, lang, client, prepared.turn_vector, (), move.score, False, move
            )
        # An off-topic turn that the dialogue context lifts towards KB passages finds nothing on its
        # own words: the confidence model weighs that (`SearchHit.turn_best`).
        hits = self._kb.search(
            prepared.query,
            k=self._s.suggestions_k,
            filters=SearchFilters(client=client),
            query_vector=prepared.query_vector,
            turn_vector=prepared.turn_vector,
        )
        judged = self._confidence.judge(prepared.text, hits)
        return TurnContext(
            prepared.text,
            prepared.language,
            client,
            prepared.turn_vector,
            tuple(hits),
            round(judged.value, 3),
            judged.abstain,
            move,
        )

    def _compute(self, prepared: _Prepared, turn_id: str, client: str | None) -> TurnOutcome:
        context = self._context(prepared, client)
        candidates: tuple[Candidate, ...] = ()
        for source in self._sources:
            candidates += source.propose(context, candidates)
        suggestions = tuple(
            Suggestion(
                uuid.uuid4().hex,
                turn_id,
                c.text,
                c.kind,
                c.confidence,
                context.language,
                c.evidence,
                c.origin,
            )
            for c in candidates[: self._s.suggestions_k]
        )
        return TurnOutcome(
            turn_id, context.language, context.confidence, context.abstain, 0.0, suggestions
        )
