"""Turn `LogFilters` into the SQL conditions of the log listings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from copilot.storage.records import LogFilters
from copilot.storage.tables import ConversationRow


def conditions(
    filters: LogFilters,
    *,
    created_at: InstrumentedAttribute[datetime],
    language: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    conversation_id: InstrumentedAttribute[str],
    agent_id: InstrumentedAttribute[str] = ConversationRow.agent_id,
) -> list[ColumnElement[bool]]:
    """WHERE conditions for ``filters`` on a listing that joins `ConversationRow` (for ``client``).

    Args:
        filters: what to keep; ``since`` is inclusive and ``until`` exclusive.
        created_at: the listed row's timestamp column.
        language: the listed row's language column.
        conversation_id: the listed row's conversation column.
        agent_id: the agent column to match (the conversation's unless the row has its own).

    Returns:
        Conditions to AND together (empty when nothing is filtered).
    """
    where: list[ColumnElement[bool]] = []
    if filters.since is not None:
        where.append(created_at >= filters.since)
    if filters.until is not None:
        where.append(created_at < filters.until)
    if filters.agent_id is not None:
        where.append(agent_id == filters.agent_id)
    if filters.client is not None:
        where.append(ConversationRow.client == filters.client)
    if filters.language is not None:
        where.append(language == filters.language)
    if filters.conversation_id is not None:
        where.append(conversation_id == filters.conversation_id)
    return where
