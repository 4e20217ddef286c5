"""`AppState`: everything the lifespan builds, gathered in one typed object."""

from __future__ import annotations

from dataclasses import dataclass

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
