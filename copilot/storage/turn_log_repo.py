"""Repository of the turn log: turns, what retrieval made of them, and the suggestions shown."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import Speaker
from copilot.storage.db import dialect_insert, storage_errors
from copilot.storage.filters import conditions
from copilot.storage.records import LogFilters, SuggestionRecord, TurnRecord
from copilot.storage.tables import ConversationRow, SuggestionRow, TurnRow

logger = logging.getLogger(__name__)


class TurnLogRepo:
    """Turns and suggestions in the log database; the caller owns the session's transaction.

    Methods raise `StorageError` when the database cannot be reached (a retry may help); a
    constraint violation stays a ``sqlalchemy.exc.IntegrityError`` (the same write fails again).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_turn(self, record: TurnRecord) -> bool:
        """Log a turn of a logged conversation, unless its (conversation, turn) id is there already.

        Returns:
            True when the turn was added; False for a resend, which changes nothing.

        Raises:
            StorageError: the database cannot be reached.
            sqlalchemy.exc.IntegrityError: the conversation is not logged.
        """
        stmt = (
            dialect_insert(self._session, TurnRow)
            .values(
                conversation_id=record.conversation_id,
                turn_id=record.turn_id,
                speaker=record.speaker.value,
                text=record.text,
                created_at=record.created_at,
                language=record.language,
                retrieval_confidence=record.retrieval_confidence,
                kb_gap=record.kb_gap,
            )
            .on_conflict_do_nothing(index_elements=[TurnRow.conversation_id, TurnRow.turn_id])
            .returning(TurnRow.id)
        )
        with storage_errors(self._session, f"add turn {record.conversation_id}/{record.turn_id}"):
            return (await self._session.execute(stmt)).scalar_one_or_none() is not None

    async def update_turn_outcome(
        self,
        conversation_id: str,
        turn_id: str,
        language: str | None,
        retrieval_confidence: float | None,
        kb_gap: bool,
    ) -> None:
        """Record what handling a turn found: its language, retrieval confidence and KB gap.

        Args:
            conversation_id: the turn's conversation.
            turn_id: the turn.
            language: detected language; None keeps the stored one.
            retrieval_confidence: best retrieval confidence in [0, 1], or None.
            kb_gap: True when the knowledge base had no good answer.

        An unknown turn (its own write was dropped) is only logged as a warning: the outcome has
        nothing to attach to, and failing would hold up the writes queued behind this one.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            update(TurnRow)
            .where(TurnRow.conversation_id == conversation_id, TurnRow.turn_id == turn_id)
            .values(
                language=func.coalesce(language, TurnRow.language),
                retrieval_confidence=retrieval_confidence,
                kb_gap=kb_gap,
            )
            .returning(TurnRow.id)
            .execution_options(synchronize_session="fetch")
        )
        with storage_errors(self._session, f"update turn {conversation_id}/{turn_id}"):
            updated = (await self._session.execute(stmt)).scalar_one_or_none()
        if updated is None:
            logger.warning(
                "turn_outcome_unknown_turn conversation_id=%s turn_id=%s", conversation_id, turn_id
            )

    async def get_turn(self, conversation_id: str, turn_id: str) -> TurnRecord | None:
        """The logged turn, or None.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = select(TurnRow).where(
            TurnRow.conversation_id == conversation_id, TurnRow.turn_id == turn_id
        )
        with storage_errors(self._session, f"read turn {conversation_id}/{turn_id}"):
            row = await self._session.scalar(stmt)
        return None if row is None else row.to_record()

    async def add_suggestions(self, records: Sequence[SuggestionRecord]) -> None:
        """Log the suggestions shown for logged turns (evidence included); ids already logged are
        left as they are, so a retried write changes nothing.

        Raises:
            StorageError: the database cannot be reached.
            sqlalchemy.exc.IntegrityError: a turn is not logged.
        """
        if not records:
            return
        stmt = (
            dialect_insert(self._session, SuggestionRow)
            .values(
                [
                    {
                        "suggestion_id": r.suggestion_id,
                        "conversation_id": r.conversation_id,
                        "turn_id": r.turn_id,
                        "rank": r.rank,
                        "kind": r.kind.value,
                        "text": r.text,
                        "confidence": r.confidence,
                        "language": r.language,
                        "evidence": [asdict(e) for e in r.evidence],
                        "latency_ms": r.latency_ms,
                        "created_at": r.created_at,
                        "origin": r.origin,
                    }
                    for r in records
                ]
            )
            .on_conflict_do_nothing(index_elements=[SuggestionRow.suggestion_id])
        )
        first = records[0]
        with storage_errors(
            self._session, f"add suggestions for {first.conversation_id}/{first.turn_id}"
        ):
            await self._session.execute(stmt)

    async def suggestions_for_turn(
        self, conversation_id: str, turn_id: str
    ) -> list[SuggestionRecord]:
        """The suggestions shown for one turn, by rank (best first).

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(SuggestionRow)
            .where(SuggestionRow.conversation_id == conversation_id)
            .where(SuggestionRow.turn_id == turn_id)
            .order_by(SuggestionRow.rank, SuggestionRow.suggestion_id)
        )
        with storage_errors(self._session, f"read suggestions of {conversation_id}/{turn_id}"):
            rows = await self._session.scalars(stmt)
            return [row.to_record() for row in rows]

    async def get_suggestion(self, suggestion_id: str) -> SuggestionRecord | None:
        """The logged suggestion with this id, or None.

        Raises:
            StorageError: the database cannot be reached.
        """
        with storage_errors(self._session, f"read suggestion {suggestion_id}"):
            row = await self._session.get(SuggestionRow, suggestion_id)
        return None if row is None else row.to_record()

    async def latest_customer_turn(self, conversation_id: str) -> TurnRecord | None:
        """The conversation's newest customer turn, or None when the customer said nothing yet.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(TurnRow)
            .where(TurnRow.conversation_id == conversation_id)
            .where(TurnRow.speaker == Speaker.CUSTOMER.value)
            .order_by(TurnRow.created_at.desc(), TurnRow.id.desc())
            .limit(1)
        )
        with storage_errors(self._session, f"read latest customer turn of {conversation_id}"):
            row = await self._session.scalar(stmt)
        return None if row is None else row.to_record()

    async def turns(self, conversation_id: str) -> list[TurnRecord]:
        """Every logged turn of a conversation, oldest first (arrival order breaks ties).

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(TurnRow)
            .where(TurnRow.conversation_id == conversation_id)
            .order_by(TurnRow.created_at, TurnRow.id)
        )
        with storage_errors(self._session, f"read turns of {conversation_id}"):
            rows = await self._session.scalars(stmt)
            return [row.to_record() for row in rows]

    async def list_suggestions(self, filters: LogFilters) -> list[SuggestionRecord]:
        """Logged suggestions matching ``filters``, newest first (by rank within a turn).

        ``language`` matches the suggestion's language; ``agent_id`` and ``client`` the
        conversation's.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(SuggestionRow)
            .join(ConversationRow, ConversationRow.conversation_id == SuggestionRow.conversation_id)
            .where(
                *conditions(
                    filters,
                    created_at=SuggestionRow.created_at,
                    language=SuggestionRow.language,
                    conversation_id=SuggestionRow.conversation_id,
                ),
            )
            .order_by(
                SuggestionRow.created_at.desc(), SuggestionRow.rank, SuggestionRow.suggestion_id
            )
            .limit(filters.limit)
            .offset(filters.offset)
        )
        with storage_errors(self._session, "list suggestions"):
            rows = await self._session.scalars(stmt)
            return [row.to_record() for row in rows]

    async def kb_gaps(self, filters: LogFilters) -> list[TurnRecord]:
        """Turns the knowledge base had no good answer for, newest first.

        ``language`` matches the turn's detected language; ``agent_id`` and ``client`` the
        conversation's.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            select(TurnRow)
            .join(ConversationRow, ConversationRow.conversation_id == TurnRow.conversation_id)
            .where(
                TurnRow.kb_gap == true(),
                *conditions(
                    filters,
                    created_at=TurnRow.created_at,
                    language=TurnRow.language,
                    conversation_id=TurnRow.conversation_id,
                ),
            )
            .order_by(TurnRow.created_at.desc(), TurnRow.id.desc())
            .limit(filters.limit)
            .offset(filters.offset)
        )
        with storage_errors(self._session, "list kb gaps"):
            rows = await self._session.scalars(stmt)
            return [row.to_record() for row in rows]
