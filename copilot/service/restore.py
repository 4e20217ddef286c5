"""Rebuild a conversation's state from the logs, for a start after the service lost it (a restart,
or its shared state expired)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.domain import Suggestion
from copilot.service.conversations import ConversationHistory
from copilot.service.events import TurnResult
from copilot.service.session import KEEP
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import LogFilters, SuggestionRecord
from copilot.storage.turn_log_repo import TurnLogRepo


def _suggestion(r: SuggestionRecord) -> Suggestion:
    return Suggestion(
        r.suggestion_id, r.turn_id, r.text, r.kind, r.confidence, r.language, r.evidence, r.origin
    )


async def load_history(
    conversation_id: str, sessions: async_sessionmaker[AsyncSession]
) -> ConversationHistory | None:
    """The conversation's logged turns, latest suggestions and given feedback; None when it has
    no logged turn. Texts come back redacted, as stored."""
    history = ConversationHistory()
    async with sessions() as s:
        repo = TurnLogRepo(s)
        turns = await repo.turns(conversation_id)
        if not turns:
            return None
        history.turns = [(t.turn_id, t.speaker, t.text) for t in turns]
        # Every logged suggestion, not only the latest turn's: a panel that lost its link may
        # still hold feedback for an older one, and must not have it refused as unknown.
        logged = LogFilters(conversation_id=conversation_id, limit=KEEP)
        rows = await repo.list_suggestions(logged)
        history.suggestions = [_suggestion(r) for r in reversed(rows)]
        given = LogFilters(conversation_id=conversation_id, limit=10_000)
        history.feedback_given = {f.suggestion_id for f in await FeedbackRepo(s).list(given)}
        latest = await repo.latest_customer_turn(conversation_id)
        if latest is None:
            return history
        records = await repo.suggestions_for_turn(conversation_id, latest.turn_id)
    suggestions = tuple(_suggestion(r) for r in records)
    if suggestions:
        history.latest = TurnResult(
            latest.turn_id,
            latest.language or suggestions[0].language,
            latest.kb_gap,
            records[0].latency_ms,
            suggestions,
        )
    return history
