"""Replicas on one PostgreSQL database share the team memory: a reply accepted through one is
offered by the others within seconds, once, even after a listener lost its connection."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from copilot.domain import FeedbackAction, Speaker, SuggestionKind
from copilot.models.embedding import Embedder
from copilot.service.memory_sync import MemorySync
from copilot.storage import feedback_repo
from copilot.storage.conversation_repo import ConversationRepo
from copilot.storage.db import create_engine, session_factory, upgrade
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.notify import MEMORY_CHANNEL
from copilot.storage.records import (
    ConversationRecord,
    FeedbackRecord,
    SuggestionRecord,
    TurnRecord,
)
from copilot.storage.turn_log_repo import TurnLogRepo
from copilot.suggest.memory import Remembered, TeamMemory

pytestmark = pytest.mark.anyio

_LISTENING = text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = :q"
)
_CUT = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND query = :q"
)
_LISTEN_QUERY = {"q": f'LISTEN "{MEMORY_CHANNEL}"'}


@pytest.fixture
def anyio_backend() -> str:
    """Run on asyncio (the service's loop)."""
    return "asyncio"


@dataclass
class _Replica:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    memory: TeamMemory
    sync: MemorySync


@asynccontextmanager
async def _replica(
    url: str, embedder: Embedder, catch_up_s: float = 60.0
) -> AsyncIterator[_Replica]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    memory = TeamMemory(embedder)
    try:
        yield _Replica(engine, sessions, memory, MemorySync(memory, sessions, engine, catch_up_s))
    finally:
        await engine.dispose()


async def _accept(replica: _Replica, n: int, question: str) -> Remembered:
    """Log a customer turn, a suggestion and the agent's accept through ``replica``, committed,
    as its service does; return what the replica learns from it."""
    cid, sid, at = f"c-{n}", f"s-{n}", datetime.now(UTC)
    async with replica.sessions() as s, s.begin():
        await ConversationRepo(s).start(ConversationRecord(cid, "a-1", "chat", "bank", "es", at))
        turns = TurnLogRepo(s)
        await turns.add_turn(TurnRecord(cid, "t1", Speaker.CUSTOMER, question, at, "es", 0.8))
        await turns.add_suggestions(
            [
                SuggestionRecord(
                    sid, cid, "t1", 0, SuggestionKind.GROUNDED, "r", 0.9, "es", (), 9.0, at
                )
            ]
        )
        accepted = FeedbackRecord(sid, cid, "a-1", FeedbackAction.ACCEPTED, f"reply {n}", at)
        assert await FeedbackRepo(s).record(accepted)
    return Remembered(sid, question, f"reply {n}", "es", "bank", "a-1", at)


async def _listeners(replica: _Replica) -> int:
    async with replica.engine.connect() as conn:
        return int(await conn.scalar(_LISTENING, _LISTEN_QUERY) or 0)


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> float:
    """Wait until ``condition`` holds; return the seconds it took (fails after ``timeout_s``)."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout_s, "not within the time allowed"
        await anyio.sleep(0.05)
    return time.monotonic() - start


async def _until_listening(replica: _Replica, n: int) -> None:
    start = time.monotonic()
    while await _listeners(replica) != n:
        assert time.monotonic() - start < 10.0, f"never {n} listeners"
        await anyio.sleep(0.05)


@pytest.mark.postgres
async def test_a_reply_accepted_on_one_replica_is_in_the_others_memory_once(
    postgres_url: str, e5: Embedder
) -> None:
    async with (
        _replica(postgres_url, e5) as a,
        _replica(postgres_url, e5) as b,
        anyio.create_task_group() as tg,
    ):
        await _accept(a, 0, "hola, buenos días")
        tg.start_soon(a.sync.run)
        tg.start_soon(b.sync.run)
        # Each reads what it lacks once it listens: from now on both hear every notice.
        await _until(lambda: "s-0" in a.memory and "s-0" in b.memory)

        item = await _accept(a, 1, "me robaron la tarjeta de crédito anoche")
        # Replica A learns it at once (as `AssistService` does) and hears its own notice too; the
        # notice may win the race, so whichever comes second adds nothing.
        await anyio.to_thread.run_sync(a.memory.add, [item])
        assert "s-1" in a.memory

        # Catch-up is a minute away here: only the notice can bring it this fast.
        await _until(lambda: "s-1" in b.memory, timeout_s=5.0)
        query = e5.embed_queries(["me han robado la tarjeta de crédito"])[0]
        match = b.memory.best(query, "bank", "es", 0.5)
        assert match is not None
        assert (match.item.suggestion_id, match.item.reply_text) == ("s-1", "reply 1")

        await anyio.sleep(0.5)  # A's own notice has come and gone
        assert await a.sync.fetch(["s-1"]) == 0
        assert await b.sync.fetch(["s-1"]) == 0
        assert await b.sync.catch_up() == 0
        assert (len(a.memory), len(b.memory)) == (2, 2)
        tg.cancel_scope.cancel()


@pytest.mark.postgres
async def test_a_replica_reads_what_was_accepted_while_it_did_not_listen(
    postgres_url: str, e5: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    async with _replica(postgres_url, e5) as a, _replica(postgres_url, e5) as b:
        await _accept(a, 1, "quero devolver um produto com defeito")
        assert await b.sync.load() == 1
        await _accept(a, 2, "¿cómo bloqueo mi tarjeta?")  # B loaded, not listening yet
        async with anyio.create_task_group() as tg:
            tg.start_soon(b.sync.run)
            await _until(lambda: "s-2" in b.memory)  # the catch-up on connecting
            await _until_listening(b, 1)

            async with a.engine.connect() as conn:
                assert await conn.scalar(_CUT, _LISTEN_QUERY) == 1
            await _accept(a, 3, "no me llega el código de verificación")
            # Either the new listener's catch-up or its notice: within the retry pause and a bit.
            await _until(lambda: "s-3" in b.memory, timeout_s=8.0)
            await _until_listening(b, 1)
            tg.cancel_scope.cancel()
        assert len(b.memory) == 3
        assert "memory_sync_lost" in caplog.text


@pytest.mark.postgres
async def test_a_notice_that_never_came_is_made_up_by_the_periodic_catch_up(
    postgres_url: str, e5: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lost(*_args: object) -> None:
        return None

    async with _replica(postgres_url, e5) as a, _replica(postgres_url, e5, catch_up_s=0.5) as b:
        async with anyio.create_task_group() as tg:
            await _accept(a, 0, "hola, buenos días")
            tg.start_soon(b.sync.run)
            await _until(lambda: "s-0" in b.memory)  # read after LISTEN: B is listening
            monkeypatch.setattr(feedback_repo, "notify", lost)  # a notice lost on the way
            await _accept(a, 1, "mi pedido llegó incompleto")
            await _until(lambda: "s-1" in b.memory, timeout_s=5.0)
            tg.cancel_scope.cancel()


async def test_on_sqlite_the_memory_is_loaded_once_and_nothing_is_followed(
    tmp_path: Path, e5: Embedder
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.sqlite'}"
    upgrade(url)
    async with _replica(url, e5) as a:
        await _accept(a, 1, "me robaron la tarjeta")
        assert await a.sync.load() == 1
        with anyio.fail_after(1.0):
            await a.sync.run()  # returns at once: one process owns a SQLite database
        assert "s-1" in a.memory
        assert len(a.memory) == 1
