"""Rebuild a conversation's session from the logs, for a reconnect after the service restarted."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.domain import Speaker, Suggestion
from copilot.service.session import ConversationSession, TurnResult
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.turn_log_repo import TurnLogRepo


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
        latest = await repo.latest_customer_turn(session.conversation_id)
        if latest is None:
            return True
        records = await repo.suggestions_for_turn(session.conversation_id, latest.turn_id)
        feedback = FeedbackRepo(s)
        for r in records:
            if await feedback.for_suggestion(r.suggestion_id) is not None:
                session.feedback_given.add(r.suggestion_id)
    suggestions = tuple(
        Suggestion(
            r.suggestion_id,
            r.turn_id,
            r.text,
            r.kind,
            r.confidence,
            r.language,
            r.evidence,
            r.origin,
        )
        for r in records
    )
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
