"""What a turn comes to: the answer its caller gets, and its suggestions as logged (redacted)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from copilot.service.events import TurnResult
from copilot.service.logwriter import LogWriter
from copilot.service.metrics import ServiceMetrics
from copilot.storage.records import SuggestionRecord
from copilot.storage.turn_log_repo import TurnLogRepo

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnAccepted:
    """A turn was logged; ``result`` holds suggestions for a customer turn that is still current.

    ``duplicate`` marks a resent turn id (nothing new was done); ``superseded`` a customer turn that
    a newer one replaced before its suggestions were ready.
    """

    turn_id: str
    result: TurnResult | None = None
    duplicate: bool = False
    superseded: bool = False


async def log_outcome(
    writer: LogWriter,
    metrics: ServiceMetrics,
    clean: Callable[[str], str],
    conversation_id: str,
    confidence: float,
    result: TurnResult,
) -> None:
    """Commit a customer turn's outcome and suggestions (texts through ``clean``, the redactor),
    then count them.

    Raises:
        StorageError: the log database is unavailable; nothing was logged.
        WriteRejectedError: the database refused the rows.
    """
    now = datetime.now(UTC)
    records = [
        SuggestionRecord(
            s.suggestion_id,
            conversation_id,
            result.turn_id,
            rank,
            s.kind,
            clean(s.text),
            s.confidence,
            s.language,
            tuple(replace(e, snippet=clean(e.snippet)) for e in s.evidence),
            result.latency_ms,
            now,
            s.origin,
        )
        for rank, s in enumerate(result.suggestions)
    ]

    async def write(s: AsyncSession) -> None:
        repo = TurnLogRepo(s)
        await repo.update_turn_outcome(
            conversation_id, result.turn_id, result.language, confidence, result.kb_gap
        )
        await repo.add_suggestions(records)

    await writer.write("suggestions", write, records)
    metrics.latency.observe(result.latency_ms / 1000)
    if result.kb_gap:
        metrics.kb_gaps.inc()
    for suggestion in result.suggestions:
        metrics.suggestions.labels(suggestion.kind.value).inc()
    logger.info(
        "turn_handled conversation_id=%s turn_id=%s latency_ms=%.1f n_suggestions=%d kb_gap=%s",
        conversation_id,
        result.turn_id,
        result.latency_ms,
        len(result.suggestions),
        result.kb_gap,
    )
