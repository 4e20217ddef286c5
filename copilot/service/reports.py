"""`ReportService`: what the supervisor console shows, read from the logs and joined with the KB.

Rates are shares of the suggestions that got a verdict (accepted + edited + rejected); suggestions
shown without one are counted apart. Time buckets are whole hours or days of the supervisor's time
zone (UTC unless told).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import anyio.to_thread
import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.domain import SuggestionKind
from copilot.errors import UnknownConversationError
from copilot.kb import KnowledgeBase
from copilot.service.gap_groups import GapGroup, gap_groups
from copilot.storage.analytics_records import (
    ConversationSummary,
    EditedSuggestion,
    ExportRow,
    FeedbackCounts,
    GroupBy,
    TimeBucket,
)
from copilot.storage.analytics_repo import AnalyticsRepo
from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import (
    ConversationRecord,
    FeedbackRecord,
    LogFilters,
    SuggestionRecord,
    TurnRecord,
)
from copilot.storage.review_repo import ReviewRepo
from copilot.storage.turn_log_repo import TurnLogRepo

logger = logging.getLogger(__name__)

HOURLY_UP_TO = timedelta(days=2)
"""An automatic bucket is an hour when the range (or the data, for an open range) spans this."""
_EMBED_BATCH = 16  # small calls let live turns' embeddings slip in between


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    """Suggestion latency percentiles (milliseconds) of the customer turns in one bucket.

    ``start`` is None for the whole range. Percentiles interpolate linearly between turns.
    """

    start: datetime | None
    turns: int
    p50: float
    p95: float
    p99: float


@dataclass(frozen=True, slots=True)
class LatencyReport:
    """Latency over the whole range and per time bucket (oldest first, empty buckets omitted)."""

    bucket: TimeBucket
    overall: LatencyPoint
    points: list[LatencyPoint]


@dataclass(frozen=True, slots=True)
class ConversationDetail:
    """Everything logged for one conversation; turns, suggestions and feedback oldest first.

    ``escalations`` counts the customer turns that got an ``escalate`` suggestion.
    """

    conversation: ConversationRecord
    turns: list[TurnRecord]
    suggestions: list[SuggestionRecord]
    feedback: list[FeedbackRecord]
    escalations: int = 0


def auto_bucket(first: datetime, last: datetime) -> TimeBucket:
    """Hourly buckets for a span of at most `HOURLY_UP_TO`, daily ones beyond."""
    return TimeBucket.HOUR if last - first <= HOURLY_UP_TO else TimeBucket.DAY


def _percentiles(start: datetime | None, values: list[float]) -> LatencyPoint:
    if not values:
        return LatencyPoint(start, 0, 0.0, 0.0, 0.0)
    p50, p95, p99 = (float(x) for x in np.percentile(values, [50, 95, 99]))
    return LatencyPoint(start, len(values), round(p50, 1), round(p95, 1), round(p99, 1))


class ReportService:
    """Reads for supervisors; cheap to build per request (it holds no state of its own).

    Every acknowledged write is already committed, so a report includes the latest turns.
    Methods raise `StorageError` when the database cannot be reached.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        kb: KnowledgeBase,
        gap_similarity: float,
    ) -> None:
        self._sessions = sessions
        self._kb = kb
        self._gap_similarity = gap_similarity

    def _doc_tags(self) -> dict[str, tuple[str, ...]]:
        return {d.doc_id: d.tags for d in self._kb.list_documents()}

    async def rates(self, filters: LogFilters, group_by: GroupBy) -> list[FeedbackCounts]:
        """Verdict counts per group, the largest first.

        A ``topic`` is a KB tag of the first document the suggestion's evidence cites (its best
        evidence), resolved through the KB as it is now. A suggestion counts once under each tag
        of that one document, and one citing no tagged document (a clarifying question, say)
        under key None: the other cited documents are supporting context, and counting their tags
        too made every suggestion count several times over.
        """
        async with self._sessions() as s:
            if group_by is not GroupBy.TOPIC:
                return await AnalyticsRepo(s).feedback_counts(filters, group_by)
            cited = await AnalyticsRepo(s).cited_documents(filters)
        tags = await anyio.to_thread.run_sync(self._doc_tags)
        tallies: dict[str | None, list[int]] = {}
        for c in cited:
            topics: set[str | None] = {t for d in c.doc_ids[:1] for t in tags.get(d, ())} or {None}
            for topic in topics:
                tally = tallies.setdefault(topic, [0, 0, 0, 0])
                tally[0] += 1
                if c.action is not None:
                    tally[1 + ["accepted", "edited", "rejected"].index(c.action.value)] += 1
        rows = [FeedbackCounts(k, *v) for k, v in tallies.items()]
        rows.sort(key=lambda r: (-r.shown, r.key is None, r.key or ""))
        return rows

    async def rates_over_time(
        self, filters: LogFilters, bucket: TimeBucket | None = None, zone: tzinfo = UTC
    ) -> tuple[TimeBucket, list[FeedbackCounts]]:
        """Verdict counts per time bucket, oldest first; ``bucket`` None picks one by the span.

        Buckets are cut in ``zone``; each key is a bucket start with that zone's offset.
        """
        async with self._sessions() as s:
            repo = AnalyticsRepo(s)
            if bucket is None and filters.since is not None:
                bucket = auto_bucket(filters.since, filters.until or datetime.now(UTC))
            if bucket is not None:
                return bucket, await repo.feedback_over_time(filters, bucket, zone)
            daily = await repo.feedback_over_time(filters, TimeBucket.DAY, zone)
            if len(daily) > 2:
                return TimeBucket.DAY, daily
            return TimeBucket.HOUR, await repo.feedback_over_time(filters, TimeBucket.HOUR, zone)

    async def latency(
        self, filters: LogFilters, bucket: TimeBucket | None = None, zone: tzinfo = UTC
    ) -> LatencyReport:
        """Percentiles of suggestion latency per customer turn, overall and per time bucket.

        Buckets are cut in ``zone``; their starts carry that zone's offset.
        """
        async with self._sessions() as s:
            turns = await AnalyticsRepo(s).turn_latencies(filters)
        if bucket is None:
            first = filters.since or (turns[0].created_at if turns else datetime.now(UTC))
            last = filters.until or (turns[-1].created_at if turns else first)
            bucket = auto_bucket(first, last)
        per_bucket: dict[datetime, list[float]] = {}
        for t in turns:
            per_bucket.setdefault(bucket.start_of(t.created_at, zone), []).append(t.latency_ms)
        return LatencyReport(
            bucket,
            _percentiles(None, [t.latency_ms for t in turns]),
            [_percentiles(start, values) for start, values in sorted(per_bucket.items())],
        )

    async def gaps(self, filters: LogFilters) -> list[GapGroup]:
        """KB-gap and all-rejected customer questions, grouped by meaning, biggest group first.

        Texts are embedded with the KB's query embedder (unit vectors) and grouped at
        ``gap_similarity``; at most ``filters.limit`` turns of each kind are read.
        """
        async with self._sessions() as s:
            turns = await ReviewRepo(s).gap_turns(filters)
        if not turns:
            return []
        texts = list(dict.fromkeys(t.text for t in turns))
        parts = []
        for i in range(0, len(texts), _EMBED_BATCH):
            batch = texts[i : i + _EMBED_BATCH]
            parts.append(await anyio.to_thread.run_sync(self._kb.embedder.embed_queries, batch))
        by_text = dict(zip(texts, np.concatenate(parts), strict=True))
        vectors = np.stack([by_text[t.text] for t in turns])
        groups = gap_groups(turns, vectors, self._gap_similarity)
        logger.info("gap_groups_built turns=%d groups=%d", len(turns), len(groups))
        return groups

    async def most_edited(self, filters: LogFilters) -> list[EditedSuggestion]:
        """Edited suggestions, least similar to what the agent sent first."""
        async with self._sessions() as s:
            return await AnalyticsRepo(s).most_edited(filters)

    async def conversations(self, filters: LogFilters) -> list[ConversationSummary]:
        """Conversations started in the range, newest first, with the size of their logs."""
        async with self._sessions() as s:
            return await ReviewRepo(s).conversations(filters)

    async def conversation(self, conversation_id: str) -> ConversationDetail:
        """Turns, suggestions with evidence, and feedback of one conversation.

        Raises:
            UnknownConversationError: no conversation is logged under that id.
        """
        filters = LogFilters(conversation_id=conversation_id, limit=10_000)
        async with self._sessions() as s:
            record = await ConversationRepo(s).get(conversation_id)
            if record is None:
                raise UnknownConversationError(f"no conversation {conversation_id} is logged")
            turns = await TurnLogRepo(s).turns(conversation_id)
            suggestions = await TurnLogRepo(s).list_suggestions(filters)
            feedback = await FeedbackRepo(s).list(filters)
        escalated = {s.turn_id for s in suggestions if s.kind is SuggestionKind.ESCALATE}
        return ConversationDetail(record, turns, suggestions[::-1], feedback[::-1], len(escalated))

    async def export(self, filters: LogFilters) -> list[ExportRow]:
        """One row per suggestion, with its turn, verdict and evidence, newest first."""
        async with self._sessions() as s:
            return await ReviewRepo(s).export_rows(filters)
