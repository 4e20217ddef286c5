"""Repository of agent feedback on suggestions, and the team memory drawn from it."""

from __future__ import annotations

import builtins

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import FeedbackAction, Speaker
from copilot.storage.db import dialect_insert, storage_errors
from copilot.storage.filters import conditions
from copilot.storage.records import FeedbackRecord, LogFilters, MemoryItem
from copilot.storage.tables import ConversationRow, FeedbackRow, SuggestionRow, TurnRow

_REMEMBERED = (FeedbackAction.ACCEPTED.value, FeedbackAction.EDITED.value)


class FeedbackRepo:
    """Feedback in the log database; the caller owns (and commits) the session's transaction.

    Methods raise `StorageError` when the database cannot be reached (a retry may help); a
    constraint violation stays a ``sqlalchemy.exc.IntegrityError`` (the same write fails again).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, record: FeedbackRecord) -> bool:
        """Log the agent's feedback on a logged suggestion, unless that suggestion has some already.

        Returns:
            True when it was logged; False when the suggestion already had feedback (a resend or a
            second click), which changes nothing.

        Raises:
            StorageError: the database cannot be reached.
            sqlalchemy.exc.IntegrityError: the suggestion or conversation is not logged.
        """
        stmt = (
            dialect_insert(self._session, FeedbackRow)
            .values(
                suggestion_id=record.suggestion_id,
                conversation_id=record.conversation_id,
                agent_id=record.agent_id,
                action=record.action.value,
                final_text=record.final_text,
                created_at=record.created_at,
                reason=record.reason,
                edit_distance=record.edit_distance,
                similarity=record.similarity,
            )
            .on_conflict_do_nothing(index_elements=[FeedbackRow.suggestion_id])
            .returning(FeedbackRow.id)
        )
        with storage_errors(self._session, f"record feedback on suggestion {record.suggestion_id}"):
            return (await self._session.execute(stmt)).scalar_one_or_none() is not None

    async def for_suggestion(self, suggestion_id: str) -> FeedbackRecord | None:
        """The feedback logged for a suggestion, or None.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = select(FeedbackRow).where(FeedbackRow.suggestion_id == suggestion_id)
        with storage_errors(self._session, f"read feedback on suggestion {suggestion_id}"):
            row = await self._session.scalar(stmt)
        return None if row is None else row.to_record()

    async def list(self, filters: LogFilters) -> builtins.list[FeedbackRecord]:
        """Logged feedback matching ``filters``, newest first.

        ``agent_id`` matches the agent who gave the feedback, ``client`` the conversation's, and
        ``language`` the suggestion's.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(FeedbackRow)
            .join(SuggestionRow, SuggestionRow.suggestion_id == FeedbackRow.suggestion_id)
            .join(ConversationRow, ConversationRow.conversation_id == FeedbackRow.conversation_id)
            .where(
                *conditions(
                    filters,
                    created_at=FeedbackRow.created_at,
                    language=SuggestionRow.language,
                    conversation_id=FeedbackRow.conversation_id,
                    agent_id=FeedbackRow.agent_id,
                )
            )
            .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
            .limit(filters.limit)
            .offset(filters.offset)
        )
        with storage_errors(self._session, "list feedback"):
            rows = await self._session.scalars(stmt)
            return [row.to_record() for row in rows]

    async def memory(self, client: str | None, limit: int = 5000) -> builtins.list[MemoryItem]:
        """Customer turns paired with the reply the agent accepted or edited, newest first.

        ``reply_text`` is the reply the agent finally sent; ``language`` is the conversation's, or
        the customer turn's when the conversation has none.

        Args:
            client: keep only this client's conversations; None keeps every client.
            limit: most items to return.

        Returns:
            At most ``limit`` items.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(
                FeedbackRow.suggestion_id,
                TurnRow.text,
                FeedbackRow.final_text,
                func.coalesce(ConversationRow.language, TurnRow.language),
                ConversationRow.client,
                FeedbackRow.agent_id,
                FeedbackRow.action,
                FeedbackRow.created_at,
            )
            .join(SuggestionRow, SuggestionRow.suggestion_id == FeedbackRow.suggestion_id)
            .join(
                TurnRow,
                (TurnRow.conversation_id == SuggestionRow.conversation_id)
                & (TurnRow.turn_id == SuggestionRow.turn_id),
            )
            .join(ConversationRow, ConversationRow.conversation_id == TurnRow.conversation_id)
            .where(FeedbackRow.action.in_(_REMEMBERED), TurnRow.speaker == Speaker.CUSTOMER.value)
            .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
            .limit(limit)
        )
        if client is not None:
            stmt = stmt.where(ConversationRow.client == client)
        with storage_errors(self._session, f"read memory of client {client}"):
            rows = (await self._session.execute(stmt)).all()
        return [
            MemoryItem(
                suggestion_id=suggestion_id,
                customer_text=customer_text,
                reply_text=reply_text,
                language=language,
                client=row_client,
                agent_id=agent_id,
                action=FeedbackAction(action),
                created_at=created_at,
            )
            for (
                suggestion_id,
                customer_text,
                reply_text,
                language,
                row_client,
                agent_id,
                action,
                created_at,
            ) in rows
        ]
