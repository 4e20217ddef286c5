"""Storage fixtures: a migrated database per backend, a session rolled back per test, seed logs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.pool import NullPool

from copilot.domain import Evidence, FeedbackAction, Speaker, SuggestionKind
from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.db import create_engine, describe, upgrade
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import (
    ConversationRecord,
    FeedbackRecord,
    SuggestionRecord,
    TurnRecord,
)
from copilot.storage.turn_log_repo import TurnLogRepo

POSTGRES_URL = os.environ.get(
    "COPILOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests on asyncio (the service's loop)."""
    return "asyncio"


def _postgres_schema_url() -> Iterator[str]:
    base = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    admin = create_sync_engine(base, poolclass=NullPool, connect_args={"connect_timeout": 3})
    schema = f"copilot_test_{uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError:
        admin.dispose()
        pytest.skip(
            f"PostgreSQL at {describe(base)} does not answer; set COPILOT_TEST_POSTGRES_URL"
        )
    # A fresh schema per test session keeps runs (and a developer's own tables) apart.
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        upgrade(url.render_as_string(hide_password=False))
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Async URL of a database migrated to the newest schema, once per backend and test session."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('storage') / 'logs.sqlite'}"
        upgrade(url)
        yield url
    else:
        yield from _postgres_schema_url()


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test database, disposed after the test."""
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session inside a transaction that is rolled back after the test, so tests never mix."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


def _ev(doc_id: str) -> Evidence:
    return Evidence(doc_id, f"Title {doc_id}", "A > B", "snippet", 0.75, f"{doc_id}.md")


def _suggestion(
    sid: str, cid: str, tid: str, rank: int, language: str, at: datetime
) -> SuggestionRecord:
    return SuggestionRecord(
        sid,
        cid,
        tid,
        rank,
        SuggestionKind.GROUNDED,
        f"reply {sid}",
        0.9 - rank / 10,
        language,
        (_ev(f"doc-{sid}"),),
        42.5,
        at,
    )


@pytest.fixture
async def seeded(session: AsyncSession) -> datetime:
    """Two conversations (bank/es by agent a1, telco/no language by a2); returns the base time.

    bank: t1 customer (+1 min), t2 agent (+2), t3 customer KB gap (+3); suggestions s-bank-1/2
    for t1 (+1), s-bank-3 for t3 (+3); feedback accepted (+5), rejected (+6), edited (+7).
    telco: u1 customer KB gap in English (+61); s-tel-1 (+61), edited by a2 (+62).
    """
    m = timedelta(minutes=1)
    convs, turns, feedback = ConversationRepo(session), TurnLogRepo(session), FeedbackRepo(session)
    await convs.start(ConversationRecord("c-bank", "a1", "chat", "bank", "es", T0))
    await convs.start(ConversationRecord("c-tel", "a2", "voice", "telco", None, T0 + 60 * m))
    for record in (
        TurnRecord("c-bank", "t1", Speaker.CUSTOMER, "bloquear tarjeta", T0 + m, "es", 0.8),
        TurnRecord("c-bank", "t2", Speaker.AGENT, "un momento", T0 + 2 * m, "es"),
        TurnRecord("c-bank", "t3", Speaker.CUSTOMER, "hipoteca", T0 + 3 * m, "es", 0.1, True),
        TurnRecord("c-tel", "u1", Speaker.CUSTOMER, "roaming fees", T0 + 61 * m, "en", 0.2, True),
    ):
        assert await turns.add_turn(record)
    await turns.add_suggestions(
        [
            _suggestion("s-bank-2", "c-bank", "t1", 1, "es", T0 + m),
            _suggestion("s-bank-1", "c-bank", "t1", 0, "es", T0 + m),
            _suggestion("s-bank-3", "c-bank", "t3", 0, "es", T0 + 3 * m),
            _suggestion("s-tel-1", "c-tel", "u1", 0, "en", T0 + 61 * m),
        ]
    )
    for record_fb in (
        FeedbackRecord(
            "s-bank-1", "c-bank", "a1", FeedbackAction.ACCEPTED, "reply s-bank-1", T0 + 5 * m
        ),
        FeedbackRecord(
            "s-bank-2",
            "c-bank",
            "a1",
            FeedbackAction.REJECTED,
            "",
            T0 + 6 * m,
            "off topic",
            14,
            0.0,
        ),
        FeedbackRecord(
            "s-bank-3",
            "c-bank",
            "a1",
            FeedbackAction.EDITED,
            "hipoteca: ver tabla",
            T0 + 7 * m,
            None,
            9,
            0.6,
        ),
        FeedbackRecord(
            "s-tel-1",
            "c-tel",
            "a2",
            FeedbackAction.EDITED,
            "Roaming costs 5/day",
            T0 + 62 * m,
            None,
            12,
            0.5,
        ),
    ):
        assert await feedback.record(record_fb)
    return T0
