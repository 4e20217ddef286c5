"""Ordered, retried writes to the log database, off the path of the suggestions."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.errors import StorageError

logger = logging.getLogger(__name__)

WriteJob = Callable[[AsyncSession], Awaitable[None]]
"""One unit of work, run in its own transaction."""


class LogWriter:
    """Runs write jobs one by one, in order, in a task owned by the app.

    A job that fails because the database is unavailable stays at the head of the queue and is
    retried with exponential backoff (up to ``max_backoff_s``), so nothing accepted is lost while
    the database is briefly down; `close` waits for the queue to drain on shutdown.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        max_backoff_s: float = 30.0,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._jobs: deque[tuple[str, WriteJob]] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._max_backoff = max_backoff_s
        self._on_depth = on_depth or (lambda _n: None)
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    def start(self) -> None:
        """Start the writer task on the running loop."""
        self._task = asyncio.create_task(self._run(), name="log-writer")

    def submit(self, name: str, job: WriteJob) -> None:
        """Queue a job; returns at once (writes never delay a suggestion)."""
        self._jobs.append((name, job))
        self._idle.clear()
        self._wakeup.set()
        self._on_depth(len(self._jobs))

    @property
    def depth(self) -> int:
        """Jobs waiting, the one in progress included."""
        return len(self._jobs)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued job is written; False when ``timeout`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Flush, then stop the task; jobs still unwritten after ``timeout`` are logged as lost."""
        if not await self.flush(timeout):
            logger.error("log_writer_unflushed jobs=%d", len(self._jobs))
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            if not self._jobs:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            name, job = self._jobs[0]
            try:
                async with self._sessions() as session, session.begin():
                    await job(session)
            except (OperationalError, InterfaceError, StorageError, OSError) as exc:
                self.failures += 1
                logger.warning(
                    "log_write_retry job=%s error=%s backoff_s=%.1f",
                    name,
                    type(exc).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            except SQLAlchemyError:
                # A constraint or data error fails the same way again: drop the job, keep going.
                self.failures += 1
                logger.exception("log_write_dropped job=%s", name)
            backoff = 0.1
            self._jobs.popleft()
            self._on_depth(len(self._jobs))
