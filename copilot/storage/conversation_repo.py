"""Repository of logged conversations: start (or refresh), read and end one."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.storage.db import dialect_insert, storage_errors
from copilot.storage.records import ConversationRecord
from copilot.storage.tables import ConversationRow

logger = logging.getLogger(__name__)


class ConversationRepo:
    """Conversations in the log database; the caller owns and commits the session's transaction.

    Methods raise `StorageError` when the database cannot be reached (a retry may help); a
    constraint violation stays a ``sqlalchemy.exc.IntegrityError`` (the same write fails again).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def start(self, record: ConversationRecord) -> ConversationRecord:
        """Log a conversation, or refresh the one already logged under its id.

        A known conversation takes the record's ``agent_id`` and ``channel`` (a transfer), and its
        ``client`` and ``language`` when they are not None; ``started_at`` and ``ended_at`` keep
        their stored values.

        Args:
            record: the conversation as the service sees it now.

        Returns:
            The row as stored after the call.

        Raises:
            StorageError: the database cannot be reached.
        """
        insert = dialect_insert(self._session, ConversationRow).values(
            conversation_id=record.conversation_id,
            agent_id=record.agent_id,
            channel=record.channel,
            client=record.client,
            language=record.language,
            started_at=record.started_at,
            ended_at=record.ended_at,
        )
        new = insert.excluded
        stmt = insert.on_conflict_do_update(
            index_elements=[ConversationRow.conversation_id],
            set_={
                "agent_id": new.agent_id,
                "channel": new.channel,
                "client": func.coalesce(new.client, ConversationRow.client),
                "language": func.coalesce(new.language, ConversationRow.language),
            },
        ).returning(ConversationRow)
        with storage_errors(self._session, f"start conversation {record.conversation_id}"):
            rows = await self._session.scalars(stmt, execution_options={"populate_existing": True})
            return rows.one().to_record()

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        """The logged conversation with this id, or None.

        Raises:
            StorageError: the database cannot be reached.
        """
        with storage_errors(self._session, f"read conversation {conversation_id}"):
            row = await self._session.get(ConversationRow, conversation_id)
        return None if row is None else row.to_record()

    async def end(self, conversation_id: str, at: datetime) -> None:
        """Mark a conversation ended at ``at`` (aware); the first end time is kept.

        Ending an unknown conversation does nothing but log a warning: it is a clean-up path.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = (
            update(ConversationRow)
            .where(ConversationRow.conversation_id == conversation_id)
            .where(ConversationRow.ended_at.is_(None))
            .values(ended_at=at)
            .returning(ConversationRow.conversation_id)
        )
        with storage_errors(self._session, f"end conversation {conversation_id}"):
            ended = (await self._session.execute(stmt)).scalar_one_or_none()
            if ended is None and await self._session.get(ConversationRow, conversation_id) is None:
                logger.warning("conversation_end_unknown conversation_id=%s", conversation_id)
