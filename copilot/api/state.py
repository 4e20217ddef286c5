"""`AppState`: everything the lifespan builds, gathered in one typed object; `StartProgress`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from copilot.kb import KnowledgeBase
from copilot.service.assist import AssistService
from copilot.service.logwriter import LogWriter
from copilot.service.metrics import ServiceMetrics
from copilot.service.voice import VoiceService
from copilot.settings import Settings


@dataclass(slots=True)
class AppState:
    """Models, index, database and service of one running app; torn down by the lifespan."""

    settings: Settings
    kb: KnowledgeBase
    service: AssistService
    writer: LogWriter
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    metrics: ServiceMetrics
    voice: VoiceService | None = None


@dataclass(slots=True)
class StartProgress:
    """Where the start stands while the lifespan loads in the background (``/readyz`` shows it).

    Written by the start task and its worker threads, read by requests: each field is replaced
    whole, so a reader sees a stage with its own or the previous counts, never a torn value.
    """

    stage: str = "starting"
    done: int = 0
    total: int = 0
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    """Set at shutdown: a demo ingest still running stops at its next progress report."""

    def step(self, stage: str, done: int = 0, total: int = 0) -> None:
        """Enter a stage (``total`` 0: not counted)."""
        self.stage, self.done, self.total = stage, done, total

    def describe(self) -> str:
        """One line for people, e.g. ``ingesting demo KB (12/40)``."""
        if self.error is not None:
            return f"the start failed: {self.error}"
        counts = f" ({self.done}/{self.total})" if self.total else ""
        return f"{self.stage}{counts}"
