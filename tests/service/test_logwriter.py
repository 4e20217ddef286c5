"""The log writer keeps order, retries while the database is down, and flushes on close."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from copilot.service.logwriter import LogWriter, WriteJob
from copilot.storage.db import create_engine, session_factory


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_writes_survive_an_outage_in_order_and_are_flushed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'log.sqlite'}")
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        await s.execute(text("CREATE TABLE events (n INTEGER)"))
    writer = LogWriter(sessions, max_backoff_s=0.05)
    writer.start()
    outage = {"left": 3}

    def job(n: int) -> WriteJob:
        async def run(s: AsyncSession) -> None:
            if n == 1 and outage["left"] > 0:
                outage["left"] -= 1
                raise OperationalError("INSERT", {}, ConnectionError("database is down"))
            await s.execute(text("INSERT INTO events (n) VALUES (:n)"), {"n": n})

        return run

    async def bad(s: AsyncSession) -> None:
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    for n in range(5):
        writer.submit(f"event-{n}", job(n))
        if n == 2:
            writer.submit("bad", bad)
    await writer.close(timeout=10)
    async with sessions() as s:
        rows = (await s.execute(text("SELECT n FROM events ORDER BY rowid"))).scalars().all()
    await engine.dispose()
    assert rows == [0, 1, 2, 3, 4]
    assert writer.failures == 4  # three retries of the outage, one dropped constraint error
    assert writer.depth == 0
