"""Migrations build the schema on both backends; engines, pings and errors behave."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from copilot.errors import StorageError
from copilot.settings import Settings
from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.db import create_engine, ping, session_factory, upgrade
from copilot.storage.records import ConversationRecord
from copilot.storage.tables import Base

pytestmark = pytest.mark.anyio

TABLES = {"conversations", "turns", "suggestions", "feedback"}
UNREACHABLE = "postgresql+psycopg://copilot:s3cret-pw@127.0.0.1:1/logs"


def _schema(conn: Connection) -> tuple[set[str], set[str], str | None]:
    inspector = inspect(conn)
    tables = set(inspector.get_table_names())
    indexes = {ix["name"] or "" for t in TABLES & tables for ix in inspector.get_indexes(t)}
    version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return tables, indexes, version


async def test_upgrade_creates_tables_indexes_and_version(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables, indexes, version = await conn.run_sync(_schema)
    assert tables >= TABLES | {"alembic_version"}
    assert {
        "ix_conversations_agent_id",
        "ix_conversations_client",
        "ix_turns_created_at",
        "ix_turns_language",
        "ix_suggestions_created_at",
        "ix_feedback_created_at",
    } <= indexes
    assert version == "0002"


async def test_upgrade_twice_is_a_no_op(db_url: str, engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        before = await conn.run_sync(_schema)
    upgrade(db_url)
    async with engine.connect() as conn:
        assert await conn.run_sync(_schema) == before


def _diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


async def test_migration_matches_orm_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_sqlite_engine_makes_folder_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dir' / 'logs.sqlite'}"
    upgrade(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert await ping(engine)
    finally:
        await engine.dispose()
    assert (tmp_path / "nested" / "dir" / "logs.sqlite").is_file()


async def test_ping_answers_true_on_the_test_database(engine: AsyncEngine) -> None:
    assert await ping(engine)


async def test_ping_answers_false_when_nothing_listens() -> None:
    engine = create_engine(UNREACHABLE)
    try:
        assert not await ping(engine)
    finally:
        await engine.dispose()


def test_upgrade_error_names_host_and_database_but_not_password() -> None:
    with pytest.raises(StorageError, match=r"127\.0\.0\.1:1/logs") as info:
        upgrade(UNREACHABLE)
    assert "s3cret-pw" not in str(info.value)


async def test_repository_wraps_an_unreachable_database_in_storage_error() -> None:
    engine = create_engine(UNREACHABLE)
    try:
        async with session_factory(engine)() as session:
            with pytest.raises(StorageError, match="read conversation c-1") as info:
                await ConversationRepo(session).get("c-1")
        assert "s3cret-pw" not in str(info.value)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_or_malformed_url_is_a_storage_error(url: str) -> None:
    with pytest.raises(StorageError):
        create_engine(url)


async def test_default_settings_url_is_a_working_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)
    url = settings.effective_database_url
    assert url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/data/copilot.sqlite"
    upgrade(url)
    engine = create_engine(url)
    try:
        async with AsyncSession(engine) as session:
            assert await ConversationRepo(session).get("missing") is None
    finally:
        await engine.dispose()
    override = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://h/db", _env_file=None)
    assert override.effective_database_url == "postgresql+psycopg://h/db"


async def test_committed_writes_are_visible_to_the_next_session(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.sqlite'}"
    upgrade(url)
    engine = create_engine(url)
    record = ConversationRecord("c-1", "a1", "chat", "bank", "es", datetime(2025, 3, 1, tzinfo=UTC))
    try:
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            stored = await ConversationRepo(session).start(record)
        assert stored == record  # still readable after commit: nothing expired
        async with sessions() as session:
            assert await ConversationRepo(session).get("c-1") == record
    finally:
        await engine.dispose()


def test_upgrade_refuses_a_database_from_a_newer_release(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.sqlite'}"
    upgrade(url)
    with closing(sqlite3.connect(tmp_path / "logs.sqlite")) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match="migration failed"):
        upgrade(url)
