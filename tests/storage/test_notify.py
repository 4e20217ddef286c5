"""Change notices: heard by every listener once the transaction commits, never after a rollback."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from copilot.errors import StorageError
from copilot.storage.notify import listen, notify

pytestmark = pytest.mark.anyio


def _postgres(engine: AsyncEngine) -> None:
    if engine.url.get_backend_name() != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite serves one process")


async def _send(engine: AsyncEngine, channel: str, payload: str, *, commit: bool) -> None:
    async with engine.connect() as conn:
        session = AsyncSession(bind=conn)
        await notify(session, channel, payload)
        await (conn.commit() if commit else conn.rollback())
        await session.close()


async def test_a_notice_is_heard_after_commit_and_dropped_with_a_rollback(
    engine: AsyncEngine,
) -> None:
    _postgres(engine)
    channel = f"copilot_test_{uuid4().hex[:12]}"  # channels span the database: one per test
    async with listen(engine, channel) as first, listen(engine, channel) as second:
        await _send(engine, channel, "s-rolled-back", commit=False)
        await _send(engine, channel, "s-1", commit=True)

        assert await first.receive(5.0) == ["s-1"]
        assert await second.receive(5.0) == ["s-1"]
        assert await first.receive(0.2) == []
        await first.check()


async def test_a_listener_whose_connection_is_killed_says_so(engine: AsyncEngine) -> None:
    _postgres(engine)
    channel = f"copilot_test_{uuid4().hex[:12]}"
    async with listen(engine, channel) as listener:
        async with engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE query = :listen"
                ),
                {"listen": f'LISTEN "{channel}"'},
            )
        assert killed == 1
        with pytest.raises(StorageError, match=f"listen {channel}: database .* lost"):
            await listener.receive(5.0)


async def test_sqlite_sends_nothing_and_cannot_listen(engine: AsyncEngine) -> None:
    if engine.url.get_backend_name() != "sqlite":
        pytest.skip("the SQLite case")
    await _send(engine, "copilot_test", "s-1", commit=True)
    with pytest.raises(StorageError, match="change notices need PostgreSQL"):
        async with listen(engine, "copilot_test"):
            pass
