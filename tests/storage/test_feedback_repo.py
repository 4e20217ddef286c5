"""Feedback is recorded once per suggestion, listed with filters, and feeds the team memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import FeedbackAction
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import FeedbackRecord, LogFilters, MemoryItem

pytestmark = pytest.mark.anyio


async def test_record_is_idempotent_and_keeps_the_first_verdict(
    session: AsyncSession, seeded: datetime
) -> None:
    repo = FeedbackRepo(session)
    first = await repo.for_suggestion("s-bank-1")
    assert first is not None
    assert first.action is FeedbackAction.ACCEPTED
    assert first.created_at == seeded + timedelta(minutes=5)
    assert first.created_at.tzinfo is UTC
    again = FeedbackRecord(
        "s-bank-1", "c-bank", "a1", FeedbackAction.REJECTED, "", seeded + timedelta(hours=2)
    )
    assert not await repo.record(again)
    assert await repo.for_suggestion("s-bank-1") == first


async def test_feedback_round_trips_every_field(session: AsyncSession, seeded: datetime) -> None:
    assert await FeedbackRepo(session).for_suggestion("s-bank-2") == FeedbackRecord(
        "s-bank-2",
        "c-bank",
        "a1",
        FeedbackAction.REJECTED,
        "",
        seeded + timedelta(minutes=6),
        "off topic",
        14,
        0.0,
    )
    assert await FeedbackRepo(session).for_suggestion("nope") is None


async def test_feedback_on_unknown_suggestion_violates_a_constraint(
    session: AsyncSession, seeded: datetime
) -> None:
    record = FeedbackRecord("ghost", "c-bank", "a1", FeedbackAction.ACCEPTED, "x", seeded)
    with pytest.raises(IntegrityError):
        await FeedbackRepo(session).record(record)


async def test_list_filters_by_agent_client_language_and_dates(
    session: AsyncSession, seeded: datetime
) -> None:
    repo = FeedbackRepo(session)

    async def ids(filters: LogFilters) -> list[str]:
        return [f.suggestion_id for f in await repo.list(filters)]

    bank = ["s-bank-3", "s-bank-2", "s-bank-1"]
    assert await ids(LogFilters()) == ["s-tel-1", *bank]
    assert await ids(LogFilters(agent_id="a1")) == bank
    assert await ids(LogFilters(client="telco")) == ["s-tel-1"]
    assert await ids(LogFilters(language="es")) == bank
    assert await ids(LogFilters(until=seeded + timedelta(minutes=6))) == ["s-bank-1"]
    assert await ids(LogFilters(since=seeded + timedelta(minutes=6), limit=2)) == [
        "s-tel-1",
        "s-bank-3",
    ]
    assert await ids(LogFilters(conversation_id="c-tel", offset=1)) == []


async def test_memory_pairs_customer_turns_with_accepted_or_edited_replies(
    session: AsyncSession, seeded: datetime
) -> None:
    repo, m = FeedbackRepo(session), timedelta(minutes=1)
    tel = MemoryItem(
        "s-tel-1",
        "roaming fees",
        "Roaming costs 5/day",
        "en",
        "telco",
        "a2",
        FeedbackAction.EDITED,
        seeded + 62 * m,
    )
    bank = [
        MemoryItem(
            "s-bank-3",
            "hipoteca",
            "hipoteca: ver tabla",
            "es",
            "bank",
            "a1",
            FeedbackAction.EDITED,
            seeded + 7 * m,
        ),
        MemoryItem(
            "s-bank-1",
            "bloquear tarjeta",
            "reply s-bank-1",
            "es",
            "bank",
            "a1",
            FeedbackAction.ACCEPTED,
            seeded + 5 * m,
        ),
    ]
    # The rejected s-bank-2 is left out; telco has no conversation language, so the turn's is used.
    assert await repo.memory(None) == [tel, *bank]
    assert await repo.memory("bank") == bank
    assert await repo.memory("retail") == []
    assert await repo.memory(None, limit=1) == [tel]
    assert all(item.created_at.tzinfo is UTC for item in await repo.memory(None))


async def test_memory_since_and_of_read_what_a_replica_lacks_oldest_first(
    session: AsyncSession, seeded: datetime
) -> None:
    repo, m = FeedbackRepo(session), timedelta(minutes=1)
    newest_first = await repo.memory(None)
    tel, bank_3, bank_1 = newest_first

    assert await repo.memory_since(seeded) == [bank_1, bank_3, tel]
    assert await repo.memory_since(seeded + 7 * m) == [bank_3, tel]  # inclusive
    assert await repo.memory_since(seeded + 8 * m) == [tel]
    assert await repo.memory_since(seeded, limit=2) == [bank_1, bank_3]
    assert await repo.memory_since(seeded + 63 * m) == []
    # The rejected s-bank-2 and an unknown id give nothing.
    assert await repo.memory_of(["s-tel-1", "s-bank-2", "s-none", "s-bank-1"]) == [bank_1, tel]
    assert await repo.memory_of([]) == []
