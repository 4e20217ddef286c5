"""Rebuild a conversation's session from the logs, for a reconnect after the service restarted."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.domain import Speaker, Suggestion
from copilot.service.session import ConversationSession, TurnResult
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import LogFilters, SuggestionRecord
from copilot.storage.turn_log_repo import TurnLogRepo

_REMEMBERED = 200
"""As many suggestions as a live session keeps for feedback lookups (`remember`'s ``keep``)."""


def _suggestion(r: SuggestionRecord) -> Suggestion:
    return Suggestion(
        r.suggestion_id, r.turn_id, r.text, r.kind, r.confidence, r.language, r.evidence, r.origin
    )


async def restore_session(
    session: ConversationSession, sessions: async_sessionmaker[AsyncSession]
) -> bool:
    """Fill a fresh session with its logged turns, latest suggestions and given feedback.

    Texts come back redacted, as stored. Returns whether the conversation had any logged turn.
    """
    async with sessions() as s:
        repo = TurnLogRepo(s)
        turns = await repo.turns(session.conversation_id)
        if not turns:
            return False
        for turn in turns:
            session.add_turn(turn.turn_id, turn.speaker, turn.text)
            if turn.speaker is Speaker.CUSTOMER:
                session.turn_texts[turn.turn_id] = turn.text
        # Every logged suggestion, not only the latest turn's: a panel that lost its link may
        # still hold feedback for an older one, and must not have it refused as unknown.
        logged = LogFilters(conversation_id=session.conversation_id, limit=_REMEMBERED)
        for r in reversed(await repo.list_suggestions(logged)):
            session.suggestions[r.suggestion_id] = _suggestion(r)
        given = LogFilters(conversation_id=session.conversation_id, limit=10_000)
        session.feedback_given.update(f.suggestion_id for f in await FeedbackRepo(s).list(given))
        latest = await repo.latest_customer_turn(session.conversation_id)
        if latest is None:
            return True
        records = await repo.suggestions_for_turn(session.conversation_id, latest.turn_id)
    suggestions = tuple(_suggestion(r) for r in records)
    if suggestions:
        session.remember(
            TurnResult(
                latest.turn_id,
                latest.language or suggestions[0].language,
                latest.kb_gap,
                records[0].latency_ms,
                suggestions,
            )
        )
    return True
