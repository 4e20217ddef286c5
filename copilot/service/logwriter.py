"""Group-committed writes to the log database: a write returns only once it is committed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from copilot.errors import StorageError, WriteRejectedError
from copilot.storage.db import failure_reason
from copilot.storage.dead_letters import DeadLetters

logger = logging.getLogger(__name__)

T = TypeVar("T")

WriteJob = Callable[[AsyncSession], Awaitable[T]]
"""One unit of work; it runs inside a transaction shared with other waiting writes."""

# Failures a retry may cure; anything else (a constraint, bad data) fails the same way again.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, StorageError, OSError)


@dataclass(slots=True)
class _Write:
    name: str
    job: WriteJob[Any]
    payload: object
    deadline: float
    done: asyncio.Future[Any]


class LogWriter:
    """Runs writes in order in one task, committing every write waiting at once (group commit).

    `write` returns after the commit, so an acknowledgement sent after it survives kill -9, while
    concurrent conversations share one commit and throughput holds. A batch the database refuses
    is retried write by write: a write that still fails for good goes to the dead-letter file
    (with an error log line and ``on_rejected``) and its caller gets `WriteRejectedError`. While the
    database is unavailable writes are retried with backoff until ``timeout_s`` runs out; then the
    caller gets `StorageError` and nothing was acknowledged.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dead_letters: DeadLetters,
        timeout_s: float = 3.0,
        max_batch: int = 256,
        on_depth: Callable[[int], None] | None = None,
        on_rejected: Callable[[str], None] | None = None,
    ) -> None:
        self._sessions = sessions
        bind = sessions.kw.get("bind")
        self._secret: str | None = bind.url.password if bind is not None else None
        self._dead_letters = dead_letters
        self._timeout = timeout_s
        self._max_batch = max_batch
        self._on_depth = on_depth or (lambda _n: None)
        self._on_rejected = on_rejected or (lambda _job: None)
        self._waiting: deque[_Write] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.failures = 0

    def start(self) -> None:
        """Start the writer task on the running loop."""
        self._task = asyncio.create_task(self._run(), name="log-writer")

    async def write(self, name: str, job: WriteJob[T], payload: object) -> T:
        """Commit ``job`` and return its result.

        Args:
            name: what is written, for logs and the dead-letter file (ids only, never text).
            job: the statements; it must be idempotent (a retry after a lost commit reply reruns
                it).
            payload: the redacted records it writes, kept in the dead-letter file if refused.

        Raises:
            StorageError: the database stayed unavailable for ``timeout_s``; nothing was written.
            WriteRejectedError: the database refused the write for good (it was dead-lettered).
        """
        loop = asyncio.get_running_loop()
        item = _Write(name, job, payload, time.monotonic() + self._timeout, loop.create_future())
        self._waiting.append(item)
        self._idle.clear()
        self._wakeup.set()
        self._on_depth(len(self._waiting))
        try:
            # The grace covers a transaction that hangs instead of failing (a black-holed link).
            result: T = await asyncio.wait_for(item.done, self._timeout * 2)
        except TimeoutError as exc:
            raise StorageError(f"{name}: the log database did not commit in time") from exc
        return result

    @property
    def depth(self) -> int:
        """Writes waiting for their commit."""
        return len(self._waiting)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until no write is waiting; False when ``timeout`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Let waiting writes finish, then stop the task."""
        if not await self.flush(timeout):
            logger.error("log_writer_unflushed writes=%d", len(self._waiting))
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch: list[_Write] = []
            while self._waiting and len(batch) < self._max_batch:
                item = self._waiting.popleft()
                if not item.done.done():  # its caller gave up: it was never acknowledged
                    batch.append(item)
            await self._commit(batch)
            self._on_depth(len(self._waiting))

    async def _commit(self, batch: list[_Write]) -> None:
        backoff = 0.05
        while batch:
            try:
                results = await self._transaction(batch)
            except _UNAVAILABLE as exc:
                self.failures += 1
                batch = self._expire(batch, exc)
                if batch:
                    wait = min(backoff, max(0.0, min(w.deadline for w in batch) - time.monotonic()))
                    await asyncio.sleep(wait)
                    backoff = min(backoff * 2, 1.0)
                continue
            except SQLAlchemyError as exc:
                self.failures += 1
                if len(batch) == 1:
                    self._reject(batch[0], exc)
                    return
                for item in batch:  # find the write the database refuses; commit the others
                    await self._commit([item])
                return
            self.commits += 1
            for item, result in zip(batch, results, strict=True):
                if not item.done.done():
                    item.done.set_result(result)
            return

    async def _transaction(self, batch: list[_Write]) -> list[Any]:
        async with self._sessions() as session, session.begin():
            return [await item.job(session) for item in batch]

    def _expire(self, batch: list[_Write], exc: BaseException) -> list[_Write]:
        """Fail the writes whose time ran out; the others are retried."""
        now = time.monotonic()
        reason = failure_reason(exc, self._secret)
        logger.warning("log_write_retry writes=%d error=%s", len(batch), reason)
        kept = []
        for item in batch:
            if item.done.done():
                continue
            if item.deadline <= now:
                item.done.set_exception(
                    StorageError(f"{item.name}: the log database is unavailable ({reason})")
                )
            else:
                kept.append(item)
        return kept

    def _reject(self, item: _Write, exc: SQLAlchemyError) -> None:
        reason = failure_reason(exc, self._secret)
        logger.error("log_write_rejected job=%s error=%s", item.name, reason)
        self._on_rejected(item.name)
        error: Exception = WriteRejectedError(
            f"{item.name}: the log database refused it ({reason})"
        )
        try:
            self._dead_letters.append(item.name, reason, item.payload)
        except StorageError as dead:
            logger.error("dead_letter_failed job=%s error=%s", item.name, dead)
            error = dead
        if not item.done.done():
            item.done.set_exception(error)
