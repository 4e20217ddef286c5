"""`create_app`: the FastAPI app and the lifespan that loads models, index and database."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from copilot import __version__
from copilot.api import error_handlers
from copilot.api.audio import audio_stream
from copilot.api.auth import Authenticator
from copilot.api.routes import conversations, health, pages, supervisor, transcribe
from copilot.api.routes import kb as kb_routes
from copilot.api.state import AppState
from copilot.api.websocket import conversation_stream
from copilot.kb import KnowledgeBase
from copilot.logconfig import install_salt, log_scrubber
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.models.loader import force_offline
from copilot.models.registry import (
    asr_spec_from_settings,
    embedder_from_settings,
    recognizer_from_settings,
    reranker_from_settings,
)
from copilot.models.reranker import Reranker
from copilot.privacy.redact import Redactor
from copilot.service.assist import AssistService
from copilot.service.batching import MicroBatchEmbedder
from copilot.service.logwriter import LogWriter
from copilot.service.metrics import ServiceMetrics
from copilot.service.pipeline import TurnPipeline
from copilot.service.session import SessionRegistry
from copilot.service.voice import VoiceService
from copilot.settings import Settings
from copilot.storage.db import create_engine, session_factory, upgrade
from copilot.storage.dead_letters import DeadLetters
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.suggest.memory import Remembered, TeamMemory

logger = logging.getLogger(__name__)


def _open_kb(
    settings: Settings,
    embedder: Embedder,
    reranker: Reranker | None,
    detector: LanguageDetector,
) -> KnowledgeBase:
    kb = KnowledgeBase.open(
        settings, embedder=embedder, reranker=reranker, language_detector=detector
    )
    if kb.n_passages == 0 and settings.ingest_demo_on_start:
        report = kb.add([settings.kb_source_dir])
        logger.info("demo_kb_ingested documents=%d", len(report.added))
    detector.detect("hola, buenos días")  # lingua loads its models on first use
    kb.warm_up()
    # Reranker passage vectors fill in the background: readiness does not wait for a large KB, and
    # a passage not cached yet is embedded on first use.
    threading.Thread(target=kb.warm_reranker, name="rerank-warm", daemon=True).start()
    return kb


def _kb_published(kb: KnowledgeBase) -> frozenset[str]:
    """Phones, e-mails and ids the KB itself prints: hotlines are not personal data, so the
    redactor keeps them in turns, replies and team memory."""
    texts = (text for doc in kb.documents() for text in (doc.title, doc.text))
    return Redactor().published_in(texts)


def _voice(
    settings: Settings,
    service: AssistService,
    metrics: ServiceMetrics,
    recognizer: SpeechRecognizer | None,
    redactor: Redactor,
) -> VoiceService | None:
    """Voice if enabled: the ASR model is resolved now (fails at start-up), loaded on first use."""
    if not settings.asr_enabled:
        return None
    if recognizer is None:
        asr_spec_from_settings(settings)

    def load() -> SpeechRecognizer:
        return recognizer if recognizer is not None else recognizer_from_settings(settings)

    return VoiceService(service, settings, metrics, load, redactor)


def _scrub_logs(settings: Settings) -> None:
    """Keep this app's API keys out of every log line and hash conversation ids with the
    install's salt (uvicorn's access lines carry both in the URL)."""
    scrubber = log_scrubber()
    scrubber.protect(k.key.get_secret_value() for k in settings.api_keys)
    salt = settings.log_salt
    scrubber.use_salt(
        salt.get_secret_value().encode() if salt is not None else install_salt(settings.data_dir)
    )


def create_app(
    settings: Settings,
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
    recognizer: SpeechRecognizer | None = None,
) -> FastAPI:
    """Build the app; models are loaded by the lifespan (or shared in, for tests and benchmarks).

    Args:
        settings: All configuration.
        embedder: An already loaded embedder; loaded from the manifest if None.
        reranker: An already loaded reranker, used when ``settings.use_reranker`` (loaded from the
            manifest if None).
        recognizer: An already loaded speech recogniser; else loaded on the first call.

    Raises:
        ConfigError: No API keys are configured and open access is off, or the log salt cannot
            be kept in the data folder.
    """
    auth = Authenticator(settings)
    _scrub_logs(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        force_offline()
        # One BLAS thread per call: the service gets its parallelism from concurrent turns, and
        # BLAS pools spinning beside the embedding engine's own threads wasted the CPU.
        threadpool_limits(limits=settings.blas_threads, user_api="blas")
        url = settings.effective_database_url
        await anyio.to_thread.run_sync(upgrade, url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        base: Embedder = (
            embedder
            if embedder is not None
            else await anyio.to_thread.run_sync(embedder_from_settings, settings)
        )
        rerank = reranker if settings.use_reranker else None
        if rerank is None and settings.use_reranker:
            rerank = await anyio.to_thread.run_sync(reranker_from_settings, settings)
        batcher = (
            MicroBatchEmbedder(base, settings.micro_batch_max, settings.micro_batch_wait_ms)
            if settings.micro_batching
            else None
        )
        query_embedder: Embedder = batcher or base
        detector = LanguageDetector()
        kb = await anyio.to_thread.run_sync(_open_kb, settings, query_embedder, rerank, detector)
        memory = TeamMemory(query_embedder)
        # Built once at start-up: documents added later are not allowlisted until a restart.
        redactor = Redactor(await anyio.to_thread.run_sync(_kb_published, kb))
        async with sessions() as s:
            remembered = await FeedbackRepo(s).memory(None)
        items = [
            Remembered(
                m.suggestion_id, m.customer_text, m.reply_text, m.language, m.client, m.agent_id
            )
            for m in remembered
        ]
        await anyio.to_thread.run_sync(memory.add, items)
        metrics = ServiceMetrics()
        writer = LogWriter(
            sessions,
            DeadLetters(settings.effective_dead_letter_path),
            settings.write_timeout_s,
            on_depth=metrics.write_backlog.set,
            on_rejected=lambda job: metrics.writes_rejected.labels(job).inc(),
        )
        writer.start()
        pipeline = TurnPipeline(
            kb,
            query_embedder,
            memory,
            detector,
            settings,
            anyio.CapacityLimiter(settings.cpu_workers),
        )
        service = AssistService(
            SessionRegistry(settings.dialogue_turns * 2, settings.session_idle_s),
            pipeline,
            memory,
            writer,
            redactor,
            metrics,
            sessions,
        )
        voice = _voice(settings, service, metrics, recognizer, redactor)
        app.state.copilot = AppState(
            settings, kb, service, writer, engine, sessions, metrics, voice
        )
        logger.info(
            "service_ready kb_passages=%d memory=%d micro_batching=%s",
            kb.n_passages,
            len(memory),
            batcher is not None,
        )
        try:
            yield
        finally:
            app.state.copilot = None
            await writer.close(settings.shutdown_flush_s)
            await engine.dispose()
            kb.close()
            if batcher is not None:
                batcher.close()
            logger.info("service_stopped")

    app = FastAPI(
        title="copilot",
        version=__version__,
        summary="Live agent assist: conversation turns in, evidence-backed suggestions out.",
        lifespan=lifespan,
    )
    app.state.authenticator = auth
    auth.log_mode()
    error_handlers.install(app)
    app.include_router(health.router)
    app.include_router(conversations.router)
    app.include_router(transcribe.router)
    app.include_router(supervisor.router)
    app.include_router(kb_routes.router)
    pages.install(app)
    app.add_api_websocket_route("/v1/conversations/{conversation_id}/stream", conversation_stream)
    app.add_api_websocket_route("/v1/conversations/{conversation_id}/audio", audio_stream)
    return app
