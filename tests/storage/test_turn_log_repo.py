"""Turns are logged once, suggestions round-trip with evidence, and listings filter and order."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import Evidence, Speaker, SuggestionKind
from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.records import ConversationRecord, LogFilters, SuggestionRecord, TurnRecord
from copilot.storage.tables import SuggestionRow
from copilot.storage.turn_log_repo import TurnLogRepo

pytestmark = pytest.mark.anyio

AT = datetime(2025, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=2)))


async def _repo(session: AsyncSession) -> TurnLogRepo:
    await ConversationRepo(session).start(ConversationRecord("c-1", "a1", "chat", None, None, AT))
    return TurnLogRepo(session)


def _turn(turn_id: str, speaker: Speaker, minutes: int, text: str = "hola") -> TurnRecord:
    return TurnRecord("c-1", turn_id, speaker, text, AT + timedelta(minutes=minutes))


async def test_add_turn_is_idempotent_on_resend(session: AsyncSession) -> None:
    repo = await _repo(session)
    assert await repo.add_turn(_turn("t1", Speaker.CUSTOMER, 0, "first"))
    assert not await repo.add_turn(_turn("t1", Speaker.AGENT, 9, "resent"))
    assert await repo.turns("c-1") == [_turn("t1", Speaker.CUSTOMER, 0, "first")]


async def test_add_turn_of_unknown_conversation_violates_a_constraint(
    session: AsyncSession,
) -> None:
    with pytest.raises(IntegrityError):
        await TurnLogRepo(session).add_turn(_turn("t1", Speaker.CUSTOMER, 0))


async def test_update_turn_outcome_sets_confidence_gap_and_keeps_language_when_none(
    session: AsyncSession,
) -> None:
    repo = await _repo(session)
    await repo.add_turn(_turn("t1", Speaker.CUSTOMER, 0))
    await repo.update_turn_outcome("c-1", "t1", "es", 0.25, True)
    await repo.update_turn_outcome("c-1", "t1", None, 0.5, True)
    turn = await repo.get_turn("c-1", "t1")
    assert turn is not None
    assert (turn.language, turn.retrieval_confidence, turn.kb_gap) == ("es", 0.5, True)
    assert turn.created_at == AT
    assert turn.created_at.tzinfo is UTC


async def test_update_outcome_of_unknown_turn_only_warns(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    repo = await _repo(session)
    await repo.update_turn_outcome("c-1", "ghost", "es", 0.1, False)
    assert "turn_outcome_unknown_turn" in caplog.text
    assert await repo.get_turn("c-1", "ghost") is None


async def test_suggestions_round_trip_with_evidence_by_rank(session: AsyncSession) -> None:
    repo = await _repo(session)
    await repo.add_turn(_turn("t1", Speaker.CUSTOMER, 0))
    evidence = (
        Evidence("d1", "Bloqueo", "Tarjetas > Bloqueo", "Llame al 0800", 0.8125, "faq.csv", "es"),
        Evidence("d2", "Robo", "Tarjetas", "Denuncie", 0.5, "robo.md"),
    )
    records = [
        SuggestionRecord(
            f"s{rank}",
            "c-1",
            "t1",
            rank,
            kind,
            f"draft {rank}",
            0.9 - rank / 10,
            "es",
            evidence if rank == 0 else (),
            123.25,
            AT + timedelta(seconds=1),
            origin,
        )
        for rank, kind, origin in (
            (2, SuggestionKind.CLARIFY, None),
            (0, SuggestionKind.GROUNDED, None),
            (1, SuggestionKind.MEMORY, "s-old"),
        )
    ]
    await repo.add_suggestions(records)
    got = await repo.suggestions_for_turn("c-1", "t1")
    assert got == sorted(records, key=lambda r: r.rank)
    assert got[0].evidence == evidence
    assert all(r.created_at.tzinfo is UTC for r in got)
    assert await repo.get_suggestion("s1") == records[2]
    assert await repo.get_suggestion("nope") is None
    await repo.add_suggestions([])


async def test_evidence_logged_before_it_had_a_language_still_reads(
    session: AsyncSession,
) -> None:
    repo = await _repo(session)
    await repo.add_turn(_turn("t1", Speaker.CUSTOMER, 0))
    record = SuggestionRecord(
        "s-ref", "c-1", "t1", 0, SuggestionKind.REFERENCE, "", 0.7, "es",
        (Evidence("d1", "Roaming", "Pay per use", "Data abroad", 0.8, "r.md", "en"),),
        10.0, AT,
    )  # fmt: skip
    await repo.add_suggestions([record])
    assert await repo.get_suggestion("s-ref") == record
    old = [{k: v for k, v in asdict(record.evidence[0]).items() if k != "language"}]
    await session.execute(
        update(SuggestionRow).where(SuggestionRow.suggestion_id == "s-ref").values(evidence=old)
    )
    got = await repo.get_suggestion("s-ref")
    assert got is not None
    assert got.evidence == (replace(record.evidence[0], language=None),)


async def test_latest_customer_turn_skips_agent_turns(session: AsyncSession) -> None:
    repo = await _repo(session)
    assert await repo.latest_customer_turn("c-1") is None
    await repo.add_turn(_turn("a0", Speaker.AGENT, 0))
    assert await repo.latest_customer_turn("c-1") is None
    for turn in (
        _turn("t1", Speaker.CUSTOMER, 1),
        _turn("t2", Speaker.CUSTOMER, 2, "second"),
        _turn("a1", Speaker.AGENT, 3),
    ):
        await repo.add_turn(turn)
    assert await repo.latest_customer_turn("c-1") == _turn("t2", Speaker.CUSTOMER, 2, "second")


async def test_turns_come_oldest_first_with_arrival_breaking_ties(session: AsyncSession) -> None:
    repo = await _repo(session)
    for turn in (
        _turn("t3", Speaker.CUSTOMER, 5),
        _turn("t1", Speaker.AGENT, 1),
        _turn("t2a", Speaker.CUSTOMER, 3),
        _turn("t2b", Speaker.AGENT, 3),
    ):
        await repo.add_turn(turn)
    assert [t.turn_id for t in await repo.turns("c-1")] == ["t1", "t2a", "t2b", "t3"]
    assert await repo.turns("other") == []


async def test_list_suggestions_filters_and_orders_newest_first(
    session: AsyncSession, seeded: datetime
) -> None:
    repo, t0, hour = TurnLogRepo(session), seeded, timedelta(hours=1)

    async def ids(filters: LogFilters) -> list[str]:
        return [r.suggestion_id for r in await repo.list_suggestions(filters)]

    bank = ["s-bank-3", "s-bank-1", "s-bank-2"]
    assert await ids(LogFilters()) == ["s-tel-1", *bank]
    assert await ids(LogFilters(since=t0 + hour)) == ["s-tel-1"]
    # A naive bound (as a query string may give) is read as UTC.
    assert await ids(LogFilters(since=(t0 + hour).replace(tzinfo=None))) == ["s-tel-1"]
    assert await ids(LogFilters(until=t0 + hour)) == bank
    assert await ids(LogFilters(since=t0 + timedelta(minutes=3), until=t0 + hour)) == bank[:1]
    assert await ids(LogFilters(agent_id="a2")) == ["s-tel-1"]
    assert await ids(LogFilters(client="bank")) == bank
    assert await ids(LogFilters(language="en")) == ["s-tel-1"]
    assert await ids(LogFilters(conversation_id="c-bank", limit=2, offset=1)) == bank[1:]
    assert await ids(LogFilters(client="bank", language="en")) == []


async def test_kb_gaps_lists_gap_turns_with_filters(
    session: AsyncSession, seeded: datetime
) -> None:
    repo = TurnLogRepo(session)

    async def ids(filters: LogFilters) -> list[str]:
        gaps = await repo.kb_gaps(filters)
        assert all(g.kb_gap and g.speaker is Speaker.CUSTOMER for g in gaps)
        return [g.turn_id for g in gaps]

    assert await ids(LogFilters()) == ["u1", "t3"]
    assert await ids(LogFilters(client="bank")) == ["t3"]
    assert await ids(LogFilters(agent_id="a2")) == ["u1"]
    assert await ids(LogFilters(language="es")) == ["t3"]
    assert await ids(LogFilters(since=seeded + timedelta(hours=1))) == ["u1"]
    assert await ids(LogFilters(limit=1)) == ["u1"]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (10, -1)])
def test_log_filters_refuse_empty_pages_and_negative_offsets(limit: int, offset: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        LogFilters(limit=limit, offset=offset)
