"""Verdict counts per group and per time bucket, turn latencies, citations and edits, both DBs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import Evidence, FeedbackAction, SuggestionKind
from copilot.storage.analytics_records import FeedbackCounts, GroupBy, TimeBucket
from copilot.storage.analytics_repo import AnalyticsRepo
from copilot.storage.records import LogFilters, SuggestionRecord
from copilot.storage.turn_log_repo import TurnLogRepo

pytestmark = pytest.mark.anyio


async def test_counts_per_group_include_suggestions_without_feedback(
    session: AsyncSession, seeded: datetime
) -> None:
    repo = AnalyticsRepo(session)
    assert await repo.feedback_counts(LogFilters(), GroupBy.OVERALL) == [
        FeedbackCounts(None, 4, 1, 2, 1)
    ]
    assert await repo.feedback_counts(LogFilters(), GroupBy.AGENT) == [
        FeedbackCounts("a1", 3, 1, 1, 1),
        FeedbackCounts("a2", 1, 0, 1, 0),
    ]
    assert await repo.feedback_counts(LogFilters(), GroupBy.CLIENT) == [
        FeedbackCounts("bank", 3, 1, 1, 1),
        FeedbackCounts("telco", 1, 0, 1, 0),
    ]
    by_language = await repo.feedback_counts(LogFilters(language="en"), GroupBy.LANGUAGE)
    assert by_language == [FeedbackCounts("en", 1, 0, 1, 0)]
    extra = SuggestionRecord(
        "s-bank-9", "c-bank", "t3", 1, SuggestionKind.CLARIFY, "¿Puede precisar?", 0.3, "es",
        (), 10.0, seeded + timedelta(minutes=3),
    )  # fmt: skip
    await TurnLogRepo(session).add_suggestions([extra])
    [bank] = await repo.feedback_counts(LogFilters(client="bank"), GroupBy.OVERALL)
    assert (bank.shown, bank.with_feedback, bank.no_feedback) == (4, 3, 1)


async def test_empty_range_gives_one_overall_row_of_zeros(
    session: AsyncSession, seeded: datetime
) -> None:
    later = LogFilters(since=seeded + timedelta(days=1))
    repo = AnalyticsRepo(session)
    assert await repo.feedback_counts(later, GroupBy.OVERALL) == [FeedbackCounts(None, 0, 0, 0, 0)]
    assert await repo.feedback_counts(later, GroupBy.AGENT) == []
    assert await repo.feedback_over_time(later, TimeBucket.DAY) == []


async def test_time_buckets_start_on_whole_utc_hours_and_days(
    session: AsyncSession, seeded: datetime
) -> None:
    late = SuggestionRecord(
        "s-late", "c-bank", "t3", 2, SuggestionKind.GROUNDED, "x", 0.5, "es", (), 5.0,
        seeded + timedelta(minutes=59, seconds=59, microseconds=700_000),
    )  # fmt: skip
    await TurnLogRepo(session).add_suggestions([late])
    repo = AnalyticsRepo(session)
    hourly = await repo.feedback_over_time(LogFilters(), TimeBucket.HOUR)
    assert hourly == [
        FeedbackCounts("2025-03-01T12:00:00+00:00", 4, 1, 1, 1),
        FeedbackCounts("2025-03-01T13:00:00+00:00", 1, 0, 1, 0),
    ]
    daily = await repo.feedback_over_time(LogFilters(agent_id="a2"), TimeBucket.DAY)
    assert daily == [FeedbackCounts("2025-03-01T00:00:00+00:00", 1, 0, 1, 0)]


async def test_days_are_cut_in_the_supervisors_time_zone(
    session: AsyncSession, seeded: datetime
) -> None:
    # 02:00 UTC on 2 March is 20:00 on 1 March in Mexico City (UTC-6): the day before.
    night = datetime(2025, 3, 2, 2, 0, tzinfo=UTC)
    await TurnLogRepo(session).add_suggestions(
        [
            SuggestionRecord(
                "s-night", "c-tel", "u1", 3, SuggestionKind.GROUNDED, "x", 0.5, "en", (), 5.0, night
            )
        ]
    )
    repo = AnalyticsRepo(session)
    assert await repo.feedback_over_time(LogFilters(), TimeBucket.DAY) == [
        FeedbackCounts("2025-03-01T00:00:00+00:00", 4, 1, 2, 1),
        FeedbackCounts("2025-03-02T00:00:00+00:00", 1, 0, 0, 0),
    ]
    mexico = ZoneInfo("America/Mexico_City")
    assert await repo.feedback_over_time(LogFilters(), TimeBucket.DAY, mexico) == [
        FeedbackCounts("2025-03-01T00:00:00-06:00", 5, 1, 2, 1)
    ]
    kolkata = await repo.feedback_over_time(LogFilters(), TimeBucket.HOUR, ZoneInfo("Asia/Kolkata"))
    # UTC+05:30: 12:01 and 12:03 UTC fall in 17:00-18:00 there, 13:01 in 18:00, 02:00 in 07:00.
    assert [(k.key, k.shown) for k in kolkata] == [
        ("2025-03-01T17:00:00+05:30", 3),
        ("2025-03-01T18:00:00+05:30", 1),
        ("2025-03-02T07:00:00+05:30", 1),
    ]


def test_a_bucket_start_is_the_local_midnight_or_hour() -> None:
    mexico = ZoneInfo("America/Mexico_City")
    at = datetime(2025, 3, 2, 2, 0, tzinfo=UTC)
    assert TimeBucket.DAY.start_of(at, mexico) == datetime(2025, 3, 1, tzinfo=mexico)
    assert TimeBucket.DAY.start_of(at) == datetime(2025, 3, 2, tzinfo=UTC)
    assert TimeBucket.HOUR.start_of(at, mexico).isoformat() == "2025-03-01T20:00:00-06:00"


async def test_latency_is_one_value_per_turn_oldest_first(
    session: AsyncSession, seeded: datetime
) -> None:
    latencies = await AnalyticsRepo(session).turn_latencies(LogFilters())
    assert [(x.conversation_id, x.turn_id, x.latency_ms) for x in latencies] == [
        ("c-bank", "t1", 42.5),
        ("c-bank", "t3", 42.5),
        ("c-tel", "u1", 42.5),
    ]
    assert latencies[0].created_at == seeded + timedelta(minutes=1)
    assert latencies[0].created_at.tzinfo is UTC


async def test_cited_documents_are_read_from_the_evidence_once_each(
    session: AsyncSession, seeded: datetime
) -> None:
    ev = Evidence("doc-a", "A", "s", "x", 0.9, "a.md")
    twice = SuggestionRecord(
        "s-two", "c-tel", "u1", 1, SuggestionKind.GROUNDED, "x", 0.5, "en",
        (ev, Evidence("doc-b", "B", "s", "y", 0.8, "b.md"), ev), 5.0, seeded + timedelta(hours=1),
    )  # fmt: skip
    await TurnLogRepo(session).add_suggestions([twice])
    cited = await AnalyticsRepo(session).cited_documents(LogFilters(client="telco"))
    assert sorted((c.suggestion_id, c.doc_ids, c.action) for c in cited) == [
        ("s-tel-1", ("doc-s-tel-1",), FeedbackAction.EDITED),
        ("s-two", ("doc-a", "doc-b"), None),
    ]


async def test_most_edited_lists_least_similar_first_with_both_texts(
    session: AsyncSession, seeded: datetime
) -> None:
    edited = await AnalyticsRepo(session).most_edited(LogFilters())
    assert [e.suggestion_id for e in edited] == ["s-tel-1", "s-bank-3"]
    top = edited[0]
    assert (top.suggestion_text, top.final_text, top.customer_text) == (
        "reply s-tel-1",
        "Roaming costs 5/day",
        "roaming fees",
    )
    assert (top.agent_id, top.client, top.similarity, top.edit_distance) == ("a2", "telco", 0.5, 12)
    only_bank = await AnalyticsRepo(session).most_edited(LogFilters(client="bank", limit=1))
    assert [e.suggestion_id for e in only_bank] == ["s-bank-3"]
