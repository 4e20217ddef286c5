"""Change notices between processes sharing a PostgreSQL log database (LISTEN / NOTIFY)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from copilot.errors import StorageError
from copilot.storage.db import describe, failure_reason

MEMORY_CHANNEL = "copilot_team_memory"
"""Where feedback that teaches the team memory is announced; the payload is the suggestion id."""

# A listener is idle for long spells: probe the socket so that a server or link that went away
# without closing it is noticed in about a minute, not after the kernel's two hours.
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}


async def notify(session: AsyncSession, channel: str, payload: str) -> None:
    """Announce ``payload`` on ``channel`` when the session's transaction commits.

    PostgreSQL delivers it at commit and drops it with a rollback, so a listener never hears of a
    row it cannot read yet. On SQLite (one process) it does nothing.

    Raises:
        sqlalchemy.exc.OperationalError: the database cannot be reached (the caller's
            ``storage_errors`` block words it).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(channel, payload)))


class ChangeListener:
    """A connection of its own that LISTENs on one channel; open it with `listen`.

    It lives outside the engine's pool: a pooled connection would go on listening after it was
    handed back to another user.
    """

    def __init__(self, conn: psycopg.AsyncConnection[TupleRow], channel: str, target: str) -> None:
        self._conn = conn
        self._channel = channel
        self._target = target

    async def receive(self, timeout_s: float) -> list[str]:
        """Wait up to ``timeout_s`` seconds for notices; return the payloads that came (maybe none).

        Raises:
            StorageError: the connection was lost; open a new listener (notices meanwhile are lost).
        """
        payloads: list[str] = []
        try:
            async for notice in self._conn.notifies(timeout=timeout_s, stop_after=1):
                payloads.append(notice.payload)
        except (psycopg.Error, OSError) as exc:
            raise self._lost(exc) from exc
        return payloads

    async def check(self) -> None:
        """Make sure the connection still answers (a silent link drops notices unseen).

        Raises:
            StorageError: the connection was lost.
        """
        try:
            await self._conn.execute("SELECT 1")
        except (psycopg.Error, OSError) as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: BaseException) -> StorageError:
        reason = failure_reason(exc)
        return StorageError(f"listen {self._channel}: database {self._target} lost ({reason})")


@asynccontextmanager
async def listen(engine: AsyncEngine, channel: str) -> AsyncIterator[ChangeListener]:
    """Listen on ``channel`` of the engine's PostgreSQL database until the block ends.

    Notices sent before the LISTEN ran are not received: read what changed after entering.

    Raises:
        StorageError: the database cannot be reached, or is not PostgreSQL.
    """
    url = engine.url
    target = describe(url)
    if url.get_backend_name() != "postgresql":
        raise StorageError(f"{target}: change notices need PostgreSQL")
    _args, params = engine.dialect.create_connect_args(url)
    params.pop("context", None)  # SQLAlchemy's type adapters: plain psycopg needs none
    params = {"connect_timeout": 5, **_KEEPALIVE, **params}
    try:
        conn = await psycopg.AsyncConnection.connect(autocommit=True, **params)
    except (psycopg.Error, OSError) as exc:
        reason = failure_reason(exc, url.password)
        raise StorageError(f"listen {channel}: database {target} unavailable ({reason})") from exc
    try:
        try:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except (psycopg.Error, OSError) as exc:
            reason = failure_reason(exc, url.password)
            raise StorageError(f"listen {channel}: database {target} failed ({reason})") from exc
        yield ChangeListener(conn, channel, target)
    finally:
        await conn.close()
