"""Aggregates behind the supervisor reports: verdict counts, time buckets, latencies, edits.

Every query filters suggestions as `report_query.from_suggestions` does (the range bounds when a
suggestion was shown). Portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, case, func, literal_column, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from copilot.domain import FeedbackAction
from copilot.storage.analytics_records import (
    CitedDocuments,
    EditedSuggestion,
    FeedbackCounts,
    GroupBy,
    TimeBucket,
    TurnLatency,
)
from copilot.storage.db import storage_errors
from copilot.storage.records import LogFilters
from copilot.storage.report_query import (
    AGENT,
    EpochSeconds,
    cited_doc_ids,
    from_suggestions,
    turn_of_suggestion,
)
from copilot.storage.tables import ConversationRow, FeedbackRow, SuggestionRow, TurnRow

_KEYS: dict[GroupBy, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
    GroupBy.AGENT: AGENT,
    GroupBy.CLIENT: ConversationRow.client,
    GroupBy.LANGUAGE: SuggestionRow.language,
}


def _tally(action: FeedbackAction) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((FeedbackRow.action == action.value, 1), else_=0)), 0)


_QUARTER_HOUR_S = 900

_COUNTS = (
    func.count(SuggestionRow.suggestion_id),
    _tally(FeedbackAction.ACCEPTED),
    _tally(FeedbackAction.EDITED),
    _tally(FeedbackAction.REJECTED),
)


class AnalyticsRepo:
    """Aggregates over the logs for supervisors; it never writes.

    Methods raise `StorageError` when the database cannot be reached.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def feedback_counts(self, filters: LogFilters, group_by: GroupBy) -> list[FeedbackCounts]:
        """Suggestions shown and verdicts per group, largest group first (``limit`` ignored).

        Args:
            filters: which suggestions count.
            group_by: ``overall`` (one row, key None), ``agent``, ``client`` or ``language``.

        Raises:
            ValueError: ``group_by`` is ``topic``: the service resolves topics through the KB.
            StorageError: the database cannot be reached.
        """
        if group_by is GroupBy.TOPIC:
            raise ValueError("topic counts come from cited_documents and the KB's tags")
        key = _KEYS.get(group_by)
        stmt = from_suggestions(select(null() if key is None else key, *_COUNTS), filters)
        if key is not None:
            stmt = stmt.group_by(key).order_by(func.count().desc(), key)
        with storage_errors(self._session, f"count feedback by {group_by.value}"):
            rows = (await self._session.execute(stmt)).all()
        return [FeedbackCounts(row[0], *map(int, row[1:])) for row in rows]

    async def feedback_over_time(
        self, filters: LogFilters, bucket: TimeBucket, zone: tzinfo = UTC
    ) -> list[FeedbackCounts]:
        """Suggestions shown and verdicts per time bucket, oldest first; empty buckets omitted.

        Args:
            filters: which suggestions count.
            bucket: hours or days.
            zone: where hours and days are cut (an IANA ``ZoneInfo``, or UTC).

        Returns:
            One row per bucket; its ``key`` is the bucket's start in ISO 8601, with the zone's
            offset then.

        Raises:
            StorageError: the database cannot be reached.
        """
        # The database counts per quarter hour (every zone's offset is a whole number of them) and
        # Python folds the quarters into the zone's hours or days, DST included. A literal width,
        # not a bound parameter: PostgreSQL must see the GROUP BY expression and the selected one
        # as the same expression.
        width = literal_column(str(_QUARTER_HOUR_S), BigInteger())
        start = (EpochSeconds(SuggestionRow.created_at) // width) * width
        stmt = from_suggestions(select(start, *_COUNTS), filters).group_by(start).order_by(start)
        with storage_errors(self._session, f"count feedback per {bucket.value}"):
            rows = (await self._session.execute(stmt)).all()
        folded: dict[datetime, list[int]] = {}
        for row in rows:
            key = bucket.start_of(datetime.fromtimestamp(int(row[0]), UTC), zone)
            tally = folded.setdefault(key, [0, 0, 0, 0])
            for i, n in enumerate(row[1:]):
                tally[i] += int(n)
        return [FeedbackCounts(k.isoformat(), *v) for k, v in sorted(folded.items())]

    async def turn_latencies(self, filters: LogFilters) -> list[TurnLatency]:
        """Latency of every customer turn that got suggestions, oldest first (``limit`` ignored).

        Raises:
            StorageError: the database cannot be reached.
        """
        first = func.min(SuggestionRow.created_at)
        stmt = from_suggestions(
            select(
                SuggestionRow.conversation_id,
                SuggestionRow.turn_id,
                first,
                func.max(SuggestionRow.latency_ms),
            ),
            filters,
        )
        stmt = stmt.group_by(SuggestionRow.conversation_id, SuggestionRow.turn_id).order_by(first)
        with storage_errors(self._session, "read turn latencies"):
            rows = (await self._session.execute(stmt)).all()
        return [TurnLatency(c, t, at, float(ms)) for c, t, at, ms in rows]

    async def cited_documents(self, filters: LogFilters) -> list[CitedDocuments]:
        """The documents each suggestion cites (first mention order) and its verdict.

        Read in Python from the evidence JSON, which keeps the query portable; ``limit`` ignored.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = from_suggestions(
            select(SuggestionRow.suggestion_id, SuggestionRow.evidence, FeedbackRow.action),
            filters,
        )
        with storage_errors(self._session, "read cited documents"):
            rows = (await self._session.execute(stmt)).all()
        return [
            CitedDocuments(
                sid,
                cited_doc_ids(evidence),
                None if action is None else FeedbackAction(action),
            )
            for sid, evidence, action in rows
        ]

    async def most_edited(self, filters: LogFilters) -> list[EditedSuggestion]:
        """Edited suggestions, least similar to the sent text first, at most ``limit``.

        Raises:
            StorageError: the database cannot be reached.
        """
        stmt = from_suggestions(
            select(SuggestionRow, FeedbackRow, ConversationRow.client, TurnRow.text), filters
        )
        stmt = (
            stmt.join(TurnRow, turn_of_suggestion())
            .where(FeedbackRow.action == FeedbackAction.EDITED.value)
            .order_by(
                FeedbackRow.similarity,
                FeedbackRow.edit_distance.desc(),
                SuggestionRow.created_at.desc(),
            )
            .limit(filters.limit)
            .offset(filters.offset)
        )
        with storage_errors(self._session, "list most edited suggestions"):
            rows = (await self._session.execute(stmt)).all()
        return [
            EditedSuggestion(
                s.suggestion_id,
                s.conversation_id,
                s.turn_id,
                f.agent_id,
                client,
                s.language,
                customer_text,
                s.text,
                f.final_text,
                f.similarity,
                f.edit_distance,
                s.created_at,
            )
            for s, f, client, customer_text in rows
        ]
