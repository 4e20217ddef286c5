"""Team memory kept in step with the feedback that every replica logs to the shared database."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import anyio
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from copilot.errors import StorageError
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.notify import MEMORY_CHANNEL, ChangeListener, listen
from copilot.storage.records import MemoryItem
from copilot.suggest.memory import Remembered, TeamMemory

logger = logging.getLogger(__name__)

CATCH_UP_S = 30.0
"""Seconds between re-reads of recent feedback, which make up for notices a listener missed."""
LOOKBACK = timedelta(minutes=5)
"""How far before the newest feedback held a re-read starts: a write waits in its replica's queue
(up to its write timeout, longer through retries) after its time was taken, and clocks differ."""
_PAGE = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RETRY_MAX_S = 30.0


def _remembered(item: MemoryItem) -> Remembered:
    return Remembered(
        item.suggestion_id,
        item.customer_text,
        item.reply_text,
        item.language,
        item.client,
        item.agent_id,
        item.created_at,
    )


class MemorySync:
    """Loads the team memory at start and, on PostgreSQL, adds what other replicas learn.

    Logging accepted or edited feedback NOTIFYs `MEMORY_CHANNEL` with the suggestion id at commit;
    every replica LISTENs and reads those rows. After each (re)connect and every ``catch_up_s``
    it also re-reads the feedback logged since the newest it holds, less ``lookback``, so notices
    lost while its listener was down are made up. `TeamMemory` keeps a suggestion once, so a
    reply this replica learned itself, or read twice, is not added again.

    Args:
        memory: The memory the pipeline suggests from.
        sessions: Sessions on the log database.
        engine: The log database's engine (its URL opens the listener's own connection).
        catch_up_s: Seconds between catch-up reads.
        lookback: How far before the newest item held a catch-up read starts.
    """

    def __init__(
        self,
        memory: TeamMemory,
        sessions: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        catch_up_s: float = CATCH_UP_S,
        lookback: timedelta = LOOKBACK,
    ) -> None:
        self._memory = memory
        self._sessions = sessions
        self._engine = engine
        self._catch_up_s = catch_up_s
        self._lookback = lookback
        self._newest: datetime | None = None

    async def load(self, limit: int = 5000) -> int:
        """Fill the memory with the newest ``limit`` items logged (at start); returns how many.

        Raises:
            StorageError: the database cannot be reached.
        """
        async with self._sessions() as s:
            items = await FeedbackRepo(s).memory(None, limit)
        return await self._add(items)

    async def fetch(self, suggestion_ids: Iterable[str]) -> int:
        """Add the memory items of these suggestions not held yet; returns how many were new.

        Raises:
            StorageError: the database cannot be reached.
        """
        wanted = {i for i in suggestion_ids if i not in self._memory}
        if not wanted:
            return 0
        async with self._sessions() as s:
            items = await FeedbackRepo(s).memory_of(wanted)
        return await self._add(items)

    async def catch_up(self) -> int:
        """Add every item logged since the newest held (less the look-back); returns how many.

        Raises:
            StorageError: the database cannot be reached.
        """
        since = _EPOCH if self._newest is None else self._newest - self._lookback
        added = 0
        while True:
            async with self._sessions() as s:
                page = await FeedbackRepo(s).memory_since(since, _PAGE)
            added += await self._add(page)
            # Pages go on from the last time read (inclusive, so ties are not skipped).
            if len(page) < _PAGE or page[-1].created_at == since:
                return added
            since = page[-1].created_at

    async def run(self) -> None:
        """Follow the feedback other replicas log, for ever (a task of the app).

        Returns at once on SQLite, which one process uses alone. A lost connection is logged and
        opened again, after a pause that doubles up to 30 s.
        """
        if self._engine.url.get_backend_name() != "postgresql":
            return
        retry_s = 1.0
        while True:
            try:
                async with listen(self._engine, MEMORY_CHANNEL) as listener:
                    logger.info("memory_sync_listening channel=%s", MEMORY_CHANNEL)
                    retry_s = 1.0
                    await self._follow(listener)
            except StorageError as exc:
                logger.warning("memory_sync_lost retry_s=%.0f error=%s", retry_s, exc)
            except Exception:
                # The task's top level, like the KB follower's: a bad row must not stop the
                # service, which keeps suggesting from the memory it has.
                logger.exception("memory_sync_failed retry_s=%.0f", retry_s)
            await anyio.sleep(retry_s)
            retry_s = min(retry_s * 2, _RETRY_MAX_S)

    async def _follow(self, listener: ChangeListener) -> None:
        # Listening first, then reading, leaves no gap: a row committed in between is read now or
        # announced later.
        self._log("catch_up", await self.catch_up())
        last = anyio.current_time()
        while True:
            wait = max(0.0, self._catch_up_s - (anyio.current_time() - last))
            ids = await listener.receive(wait)
            if ids:
                self._log("notice", await self.fetch(ids))
            if anyio.current_time() - last >= self._catch_up_s:
                await listener.check()
                self._log("catch_up", await self.catch_up())
                last = anyio.current_time()

    async def _add(self, items: list[MemoryItem]) -> int:
        if not items:
            return 0
        newest = max(i.created_at for i in items)
        self._newest = newest if self._newest is None else max(self._newest, newest)
        added: int = await anyio.to_thread.run_sync(
            self._memory.add, [_remembered(i) for i in items]
        )
        return added

    def _log(self, source: str, added: int) -> None:
        if added:
            logger.info(
                "memory_synced source=%s added=%d memory=%d", source, added, len(self._memory)
            )
