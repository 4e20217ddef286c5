"""SQL building blocks shared by the report repositories: the filtered suggestion join, epochs.

``since``/``until`` bound when the suggestion was shown; ``agent_id`` matches the agent who gave
the verdict, else the conversation's agent; ``client`` the conversation's; ``language`` the
suggestion's. The SQL is portable between SQLite and PostgreSQL; the one dialect-specific piece,
whole seconds since the epoch for time buckets, is compiled per dialect here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVarTuple

from sqlalchemy import BigInteger, ColumnElement, Select, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from copilot.storage.filters import conditions
from copilot.storage.records import LogFilters
from copilot.storage.tables import ConversationRow, FeedbackRow, SuggestionRow, TurnRow

_Ts = TypeVarTuple("_Ts")

AGENT: ColumnElement[str] = func.coalesce(FeedbackRow.agent_id, ConversationRow.agent_id)
"""The agent a suggestion counts for: who gave the verdict, else the conversation's agent."""


class EpochSeconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a timestamp column (an integer expression)."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(EpochSeconds, "sqlite")
def _epoch_sqlite(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # UTCDateTime stores UTC wall-clock text on SQLite, which strftime reads as UTC.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(EpochSeconds, "postgresql")
def _epoch_postgresql(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # FLOOR, not a bare cast: casting rounds, which would push 12:59:59.7 into the next hour.
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


def from_suggestions(stmt: Select[*_Ts], filters: LogFilters) -> Select[*_Ts]:
    """``stmt`` over suggestions joined to their conversation and (outer) feedback, filtered.

    Args:
        stmt: the SELECT whose columns come from these three tables.
        filters: which suggestions to keep (``limit`` and ``offset`` are not applied).

    Returns:
        The statement with FROM, joins and WHERE added.
    """
    where = conditions(
        replace(filters, agent_id=None),
        created_at=SuggestionRow.created_at,
        language=SuggestionRow.language,
        conversation_id=SuggestionRow.conversation_id,
    )
    if filters.agent_id is not None:
        where.append(AGENT == filters.agent_id)
    return (
        stmt.select_from(SuggestionRow)
        .join(ConversationRow, ConversationRow.conversation_id == SuggestionRow.conversation_id)
        .outerjoin(FeedbackRow, FeedbackRow.suggestion_id == SuggestionRow.suggestion_id)
        .where(*where)
    )


def turn_of_suggestion() -> ColumnElement[bool]:
    """Join condition from a suggestion to the turn it answered."""
    return (TurnRow.conversation_id == SuggestionRow.conversation_id) & (
        TurnRow.turn_id == SuggestionRow.turn_id
    )


def cited_doc_ids(evidence: list[dict[str, Any]]) -> tuple[str, ...]:
    """The document ids of a suggestion's logged evidence, in first-mention order, once each."""
    return tuple(dict.fromkeys(str(item["doc_id"]) for item in evidence))
