"""Engine and session factories for the log database, its Alembic upgrade, and a health ping.

Two backends are supported: SQLite through aiosqlite (a file, WAL mode, foreign keys on) and
PostgreSQL through psycopg 3. Errors name the database by host and name, never by full URL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import (
    ArgumentError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import NullPool

from copilot.errors import StorageError
from copilot.storage.tables import Base

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""Folder of the Alembic environment and its ``versions``."""

# Failures a retry may cure; anything else (a constraint, bad data) fails the same way again.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError)

# Driver a URL's scheme is run with: (async engine, synchronous Alembic upgrade).
_DRIVERS = {
    "sqlite": ("sqlite+aiosqlite", "sqlite"),
    "sqlite+aiosqlite": ("sqlite+aiosqlite", "sqlite"),
    "postgresql": ("postgresql+psycopg", "postgresql+psycopg"),
    "postgresql+psycopg": ("postgresql+psycopg", "postgresql+psycopg"),
    "postgresql+psycopg_async": ("postgresql+psycopg_async", "postgresql+psycopg"),
}


def describe(url: URL) -> str:
    """Name a database for messages and logs, without its password: ``host:port/db`` or the file."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite:{url.database or ':memory:'}"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()}://{url.host or 'localhost'}{port}/{url.database or ''}"


def _parse(url: str, *, sync: bool) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError("database URL cannot be parsed") from exc
    drivers = _DRIVERS.get(parsed.drivername)
    if drivers is None:
        supported = ", ".join(sorted(_DRIVERS))
        raise StorageError(
            f"{describe(parsed)}: unsupported driver {parsed.drivername!r} ({supported})"
        )
    parsed = parsed.set(drivername=drivers[1] if sync else drivers[0])
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{describe(parsed)}: cannot create folder {folder}") from exc
    return parsed


def _sqlite_on_connect(dbapi_conn: object, _record: object) -> None:
    # The driver's own BEGIN handling skips SELECTs and savepoints; `_sqlite_on_begin` does it.
    dbapi_conn.isolation_level = None  # type: ignore[attr-defined]  # DB-API connection, untyped
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]  # DB-API connection, untyped
    # WAL lets the panel's reads go on while a turn is written.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine of the log database (no connection is opened yet).

    Args:
        url: SQLAlchemy URL, ``sqlite+aiosqlite:///…`` or ``postgresql+psycopg://…`` (plain
            ``sqlite``/``postgresql`` get those drivers). A SQLite file's folder is created.

    Returns:
        The engine; dispose of it with ``await engine.dispose()``.

    Raises:
        StorageError: the URL is malformed, its driver unsupported, or the folder cannot be made.
    """
    parsed = _parse(url, sync=False)
    try:
        # hide_parameters: error texts must never carry turn text or drafts.
        # A PostgreSQL server that stops answering (not refusing) must fail a write in seconds,
        # not after the kernel's TCP timeout: the caller is waiting to acknowledge it.
        connect_args = {"connect_timeout": 5} if parsed.get_backend_name() == "postgresql" else {}
        engine = _create_async_engine(
            parsed, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args
        )
    except SQLAlchemyError as exc:
        raise StorageError(f"{describe(parsed)}: cannot create engine") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine`` whose objects stay readable after commit (no expiry on commit)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def upgrade(url: str) -> None:
    """Bring the log database to the newest schema (Alembic ``upgrade head``); blocking.

    Runs on a synchronous driver (plain ``sqlite``, psycopg 3), so it never needs an event loop;
    call it at start-up, or through ``anyio.to_thread.run_sync`` from async code. Running it on an
    up-to-date database does nothing.

    Args:
        url: the same URL given to `create_engine`.

    Raises:
        StorageError: the database cannot be reached, a migration fails, or the database is at a
            revision this code does not know (it was migrated by a newer copilot).
    """
    parsed = _parse(url, sync=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    engine = create_sync_engine(parsed, poolclass=NullPool, hide_parameters=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except (SQLAlchemyError, CommandError) as exc:
        reason = failure_reason(exc, parsed.password)
        raise StorageError(f"{describe(parsed)}: migration failed ({reason})") from exc
    finally:
        engine.dispose()
    logger.info("database_upgraded target=%s", describe(parsed))


async def ping(engine: AsyncEngine) -> bool:
    """Tell whether the database answers a trivial query; failures are logged, not raised."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        reason = failure_reason(exc, engine.url.password)
        logger.warning("database_ping_failed target=%s error=%s", describe(engine.url), reason)
        return False
    return True


def dialect_insert(session: AsyncSession, entity: type[Base]) -> PgInsert | SqliteInsert:
    """An INSERT for ``entity`` in the session's dialect, so it can take ``ON CONFLICT`` clauses.

    Raises:
        StorageError: the session is bound to neither SQLite nor PostgreSQL.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return pg_insert(entity)
    if name == "sqlite":
        return sqlite_insert(entity)
    raise StorageError(f"unsupported database dialect {name!r}: use SQLite or PostgreSQL")


def failure_reason(exc: BaseException, secret: str | None = None) -> str:
    """One line naming a database failure, safe to log: never the statement or its parameters.

    ``secret`` (the URL's password) is masked should the driver repeat it.
    """
    if isinstance(exc, StorageError):  # already worded without secrets
        return str(exc)
    # The driver's first line names the failure ("connection refused", a constraint); the full
    # SQLAlchemy text would add the statement and its parameters, which may hold turn text.
    orig = exc.orig if isinstance(exc, StatementError) else exc
    if orig is None:
        return type(exc).__name__
    constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if constraint:
        return f"{type(orig).__name__}: {constraint}"
    lines = str(orig).strip().splitlines()
    reason = f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__
    return reason.replace(secret, "***") if secret else reason


@contextmanager
def storage_errors(session: AsyncSession, action: str) -> Iterator[None]:
    """Re-raise "database unavailable" errors in the block as `StorageError` naming ``action``.

    Only failures that a retry may cure are wrapped (lost or refused connection, locked or full
    database, pool timeout); constraint and data errors stay SQLAlchemy errors, because the same
    write would fail again. ``action`` must hold ids only, never conversation text.

    Raises:
        StorageError: the database could not be reached or could not run the statement now.
    """
    try:
        yield
    except _UNAVAILABLE as exc:
        url = session.get_bind().engine.url
        reason = failure_reason(exc, url.password)
        raise StorageError(f"{action}: database {describe(url)} unavailable ({reason})") from exc
