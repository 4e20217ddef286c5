"""KB-gap turns, conversation summaries and export rows, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.domain import FeedbackAction, Speaker, SuggestionKind
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import FeedbackRecord, LogFilters, SuggestionRecord, TurnRecord
from copilot.storage.review_repo import ReviewRepo
from copilot.storage.turn_log_repo import TurnLogRepo

pytestmark = pytest.mark.anyio


async def _rejected_turn(session: AsyncSession, at: datetime) -> None:
    turns = TurnLogRepo(session)
    await turns.add_turn(TurnRecord("c-bank", "t4", Speaker.CUSTOMER, "cuota", at, "es", 0.9))
    await turns.add_suggestions(
        [
            SuggestionRecord(
                f"s-t4-{i}", "c-bank", "t4", i, SuggestionKind.GROUNDED, "x", 0.9, "es", (), 9.0, at
            )
            for i in range(2)
        ]
    )
    await FeedbackRepo(session).record(
        FeedbackRecord("s-t4-0", "c-bank", "a1", FeedbackAction.REJECTED, "", at)
    )


async def test_gap_turns_are_kb_gaps_and_turns_with_only_rejections(
    session: AsyncSession, seeded: datetime
) -> None:
    await _rejected_turn(session, seeded + timedelta(minutes=8))
    gaps = await ReviewRepo(session).gap_turns(LogFilters())
    # t1 had a rejection and an acceptance: the KB helped, so it is no gap.
    assert [(g.turn_id, g.reason, g.client, g.language) for g in gaps] == [
        ("u1", "kb_gap", "telco", "en"),
        ("t4", "rejected", "bank", "es"),
        ("t3", "kb_gap", "bank", "es"),
    ]
    assert gaps[2].text == "hipoteca"
    spanish = await ReviewRepo(session).gap_turns(LogFilters(language="es", agent_id="a1"))
    assert [g.turn_id for g in spanish] == ["t4", "t3"]


async def test_conversations_are_listed_newest_first_with_their_sizes(
    session: AsyncSession, seeded: datetime
) -> None:
    listed = await ReviewRepo(session).conversations(LogFilters())
    assert [(c.conversation.conversation_id, c.turns, c.suggestions, c.feedback, c.kb_gaps)
            for c in listed] == [("c-tel", 1, 1, 1, 1), ("c-bank", 3, 3, 3, 1)]  # fmt: skip
    assert [c.conversation.agent_id for c in listed] == ["a2", "a1"]
    only = await ReviewRepo(session).conversations(LogFilters(client="bank"))
    assert [c.conversation.conversation_id for c in only] == ["c-bank"]


async def test_conversation_language_is_its_latest_customer_turns_detected_one(
    session: AsyncSession, seeded: datetime
) -> None:
    # c-tel was started without a language; its customer turn was detected as English.
    english = await ReviewRepo(session).conversations(LogFilters(language="en"))
    assert [(c.conversation.conversation_id, c.conversation.language) for c in english] == [
        ("c-tel", "en")
    ]
    await TurnLogRepo(session).add_turn(
        TurnRecord("c-tel", "u2", Speaker.CUSTOMER, "e aí?", seeded + timedelta(hours=2), "pt")
    )
    portuguese = await ReviewRepo(session).conversations(LogFilters(language="pt"))
    assert [c.conversation.conversation_id for c in portuguese] == ["c-tel"]
    assert await ReviewRepo(session).conversations(LogFilters(language="en")) == []


async def test_conversation_gap_count_agrees_with_the_gap_turns(
    session: AsyncSession, seeded: datetime
) -> None:
    await _rejected_turn(session, seeded + timedelta(minutes=8))
    repo = ReviewRepo(session)
    per_conversation: dict[str, int] = {}
    for gap in await repo.gap_turns(LogFilters()):
        per_conversation[gap.conversation_id] = per_conversation.get(gap.conversation_id, 0) + 1
    listed = {
        c.conversation.conversation_id: c.kb_gaps for c in await repo.conversations(LogFilters())
    }
    assert listed == per_conversation == {"c-bank": 2, "c-tel": 1}


async def test_export_has_one_row_per_suggestion_with_turn_verdict_and_evidence(
    session: AsyncSession, seeded: datetime
) -> None:
    rows = await ReviewRepo(session).export_rows(LogFilters())
    assert [r.suggestion_id for r in rows] == ["s-tel-1", "s-bank-3", "s-bank-1", "s-bank-2"]
    tel = rows[0]
    assert (tel.agent_id, tel.client, tel.channel, tel.turn_text, tel.kb_gap) == (
        "a2",
        "telco",
        "voice",
        "roaming fees",
        True,
    )
    assert (tel.action, tel.final_text, tel.similarity, tel.edit_distance) == (
        FeedbackAction.EDITED,
        "Roaming costs 5/day",
        0.5,
        12,
    )
    assert tel.evidence_doc_ids == ("doc-s-tel-1",)
    assert rows[3].reason == "off topic"
    await _rejected_turn(session, seeded + timedelta(minutes=8))
    unreviewed = [r for r in await ReviewRepo(session).export_rows(LogFilters()) if not r.action]
    assert [(r.suggestion_id, r.similarity, r.feedback_at) for r in unreviewed] == [
        ("s-t4-1", None, None)
    ]
