"""Repository of agent feedback on suggestions, and the team memory drawn from it."""

from __future__ import annotations

import builtins
from collections.abc import Collection
from datetime import datetime
from typing import TypeAlias

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import FeedbackAction, Speaker
from copilot.storage.db import dialect_insert, storage_errors
from copilot.storage.filters import conditions
from copilot.storage.notify import MEMORY_CHANNEL, notify
from copilot.storage.records import FeedbackRecord, LogFilters, MemoryItem
from copilot.storage.tables import ConversationRow, FeedbackRow, SuggestionRow, TurnRow

_REMEMBERED = (FeedbackAction.ACCEPTED.value, FeedbackAction.EDITED.value)
# suggestion id, customer text, reply, language, client, agent id, action, feedback time
_MemoryRow: TypeAlias = tuple[str, str, str, str, str | None, str, str, datetime]


class FeedbackRepo:
    """Feedback in the log database; the caller owns (and commits) the session's transaction.

    Methods raise `StorageError` when the database cannot be reached (a retry may help); a
    constraint violation stays a ``sqlalchemy.exc.IntegrityError`` (the same write fails again).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, record: FeedbackRecord) -> bool:
        """Log the agent's feedback on a logged suggestion, unless that suggestion has some already.

        An accept or edit also announces the suggestion id on `MEMORY_CHANNEL` (PostgreSQL), so
        other replicas add it to their team memory once the transaction commits.

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
            recorded = (await self._session.execute(stmt)).scalar_one_or_none() is not None
            if recorded and record.action.value in _REMEMBERED:
                # Delivered at commit, and dropped with a rollback: replicas learn it only once
                # the row can be read.
                await notify(self._session, MEMORY_CHANNEL, record.suggestion_id)
        return recorded

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
            _memory_select()
            .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc())
            .limit(limit)
        )
        if client is not None:
            stmt = stmt.where(ConversationRow.client == client)
        with storage_errors(self._session, f"read memory of client {client}"):
            rows = (await self._session.execute(stmt)).all()
        return [_memory_item(row) for row in rows]

    async def memory_since(self, since: datetime, limit: int = 1000) -> builtins.list[MemoryItem]:
        """Team memory from feedback logged at or after ``since``, oldest first (for catching up).

        Args:
            since: earliest feedback time, inclusive (timezone-aware).
            limit: most items to return; page on by the last item's ``created_at``.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            _memory_select()
            .where(FeedbackRow.created_at >= since)
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
            .limit(limit)
        )
        with storage_errors(self._session, "read memory since a time"):
            rows = (await self._session.execute(stmt)).all()
        return [_memory_item(row) for row in rows]

    async def memory_of(self, suggestion_ids: Collection[str]) -> builtins.list[MemoryItem]:
        """Team memory from the feedback on these suggestions (ids with none, or a rejection, or
        an unknown id give nothing), oldest first.

        Raises:
            StorageError: the database cannot be reached.
        """
        if not suggestion_ids:
            return []
        stmt = (
            _memory_select()
            .where(FeedbackRow.suggestion_id.in_(suggestion_ids))
            .order_by(FeedbackRow.created_at, FeedbackRow.id)
        )
        with storage_errors(self._session, f"read memory of {len(suggestion_ids)} suggestions"):
            rows = (await self._session.execute(stmt)).all()
        return [_memory_item(row) for row in rows]


def _memory_select() -> Select[*_MemoryRow]:
    """Feedback that teaches (accepted or edited) joined to the customer turn it answered."""
    return (
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
    )


def _memory_item(row: Row[*_MemoryRow]) -> MemoryItem:
    suggestion_id, customer_text, reply_text, language, client, agent_id, action, created_at = row
    return MemoryItem(
        suggestion_id=suggestion_id,
        customer_text=customer_text,
        reply_text=reply_text,
        language=language,
        client=client,
        agent_id=agent_id,
        action=FeedbackAction(action),
        created_at=created_at,
    )
