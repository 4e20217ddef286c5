"""Conversations are upserted on start, read back aware, and ended once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.records import ConversationRecord

pytestmark = pytest.mark.anyio

START = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3)))


async def test_start_inserts_and_returns_the_stored_row_in_utc(session: AsyncSession) -> None:
    repo = ConversationRepo(session)
    stored = await repo.start(ConversationRecord("c-1", "a1", "chat", "bank", "es", START))
    assert stored == ConversationRecord("c-1", "a1", "chat", "bank", "es", START)
    assert stored.started_at.tzinfo is UTC
    assert await repo.get("c-1") == stored


async def test_restart_takes_agent_and_channel_and_keeps_unset_client_language(
    session: AsyncSession,
) -> None:
    repo = ConversationRepo(session)
    await repo.start(ConversationRecord("c-1", "a1", "chat", "bank", "es", START))
    later = START + timedelta(hours=1)
    stored = await repo.start(ConversationRecord("c-1", "a2", "voice", None, None, later))
    assert stored == ConversationRecord("c-1", "a2", "voice", "bank", "es", START)
    stored = await repo.start(ConversationRecord("c-1", "a2", "voice", "card", "pt", later))
    assert (stored.client, stored.language) == ("card", "pt")
    assert await repo.get("c-1") == stored


async def test_get_unknown_conversation_is_none(session: AsyncSession) -> None:
    assert await ConversationRepo(session).get("nope") is None


async def test_end_keeps_the_first_end_time(session: AsyncSession) -> None:
    repo = ConversationRepo(session)
    await repo.start(ConversationRecord("c-1", "a1", "chat", None, None, START))
    first = START + timedelta(minutes=5)
    await repo.end("c-1", first)
    await repo.end("c-1", first + timedelta(minutes=1))
    ended = await repo.get("c-1")
    assert ended is not None
    assert ended.ended_at == first
    assert ended.ended_at.tzinfo is UTC


async def test_end_of_unknown_conversation_only_warns(
    session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    await ConversationRepo(session).end("ghost", START)
    assert "conversation_end_unknown" in caplog.text
    assert await ConversationRepo(session).get("ghost") is None
