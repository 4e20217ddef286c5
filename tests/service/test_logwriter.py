"""The log writer: a write returns once committed, concurrent writes share commits, an outage
fails a write in bounded time, and a refused write goes to the dead-letter file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.errors import StorageError, WriteRejectedError
from copilot.service.logwriter import LogWriter, WriteJob
from copilot.storage.db import create_engine, session_factory
from copilot.storage.dead_letters import DeadLetters


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite'}")
    factory = session_factory(engine)
    async with factory() as s, s.begin():
        await s.execute(text("CREATE TABLE events (n INTEGER PRIMARY KEY)"))
    yield factory
    await engine.dispose()


def insert(n: int) -> WriteJob[int]:
    async def run(s: AsyncSession) -> int:
        await s.execute(text("INSERT INTO events (n) VALUES (:n)"), {"n": n})
        return n

    return run


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as s:
        return list((await s.execute(text("SELECT n FROM events ORDER BY n"))).scalars())


@pytest.mark.anyio
async def test_concurrent_writes_are_committed_when_they_return_sharing_commits(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    writer = LogWriter(sessions, DeadLetters(tmp_path / "dead.jsonl"))
    writer.start()
    results = await asyncio.gather(*(writer.write(f"e{n}", insert(n), {"n": n}) for n in range(50)))
    # Read on another connection before anything is flushed or closed: the rows are there.
    assert await stored(sessions) == list(range(50))
    assert results == list(range(50))
    assert writer.commits < 50  # group commit: concurrent writes shared transactions
    await writer.close()


@pytest.mark.anyio
async def test_a_short_outage_is_ridden_out_and_a_long_one_fails_the_write(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    writer = LogWriter(sessions, DeadLetters(tmp_path / "dead.jsonl"), timeout_s=0.5)
    writer.start()
    outage = {"left": 2}

    def flaky(n: int) -> WriteJob[int]:
        async def run(s: AsyncSession) -> int:
            if outage["left"] > 0:
                outage["left"] -= 1
                raise OperationalError("INSERT", {}, ConnectionError("database is down"))
            return await insert(n)(s)

        return run

    assert await writer.write("short", flaky(1), {}) == 1
    outage["left"] = 10**6
    with pytest.raises(StorageError, match="unavailable"):
        await writer.write("long", flaky(2), {})
    outage["left"] = 0
    assert await writer.write("after", flaky(3), {}) == 3
    assert await stored(sessions) == [1, 3]
    await writer.close()


@pytest.mark.anyio
async def test_a_refused_write_is_dead_lettered_and_its_batch_neighbours_committed(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    dead = DeadLetters(tmp_path / "dead.jsonl")
    rejected: list[str] = []
    writer = LogWriter(sessions, dead, on_rejected=rejected.append)
    writer.start()

    async def bad(s: AsyncSession) -> None:
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    outcomes = await asyncio.gather(
        writer.write("e1", insert(1), {"n": 1}),
        writer.write("bad", bad, {"conversation_id": "c-1", "turn_id": "t-9"}),
        writer.write("e2", insert(2), {"n": 2}),
        return_exceptions=True,
    )
    assert outcomes[0] == 1
    assert outcomes[2] == 2
    assert isinstance(outcomes[1], WriteRejectedError)
    assert await stored(sessions) == [1, 2]
    assert rejected == ["bad"]
    [letter] = dead.read()
    assert letter["job"] == "bad"
    assert "duplicate key" in str(letter["error"])
    assert letter["payload"] == {"conversation_id": "c-1", "turn_id": "t-9"}
    await writer.close()
