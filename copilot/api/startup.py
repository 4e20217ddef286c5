"""The start of the service: models, KB, database and service built in stages, with progress.

The lifespan runs `start` in the background when ``background_start`` is on, so the port answers
(``/readyz`` 503 with the stage) while the models load and the demo KB is ingested.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AsyncExitStack

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from copilot.api.state import AppState, StartProgress
from copilot.errors import ServiceStartingError
from copilot.kb import KnowledgeBase
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.models.registry import (
    asr_spec_from_settings,
    embedder_from_settings,
    recognizer_from_settings,
    reranker_from_settings,
)
from copilot.models.reranker import Reranker
from copilot.models.translate import default_translator
from copilot.privacy.redact import Redactor
from copilot.service.assist import AssistService
from copilot.service.batching import MicroBatchEmbedder
from copilot.service.logwriter import LogWriter
from copilot.service.memory_sync import MemorySync
from copilot.service.metrics import ServiceMetrics
from copilot.service.pipeline import TurnPipeline
from copilot.service.state import open_conversations
from copilot.service.voice import VoiceService
from copilot.settings import Settings
from copilot.storage.db import create_engine, session_factory, upgrade
from copilot.storage.dead_letters import DeadLetters
from copilot.suggest.memory import TeamMemory

logger = logging.getLogger(__name__)

DEMO_STAGE = "ingesting demo KB"


def _open_kb(
    settings: Settings,
    embedder: Embedder,
    reranker: Reranker | None,
    detector: LanguageDetector,
    progress: StartProgress,
) -> KnowledgeBase:
    progress.step("opening the KB")
    kb = KnowledgeBase.open(
        settings, embedder=embedder, reranker=reranker, language_detector=detector
    )
    try:
        if kb.n_passages == 0 and settings.ingest_demo_on_start:
            progress.step(DEMO_STAGE)

            def report(stage: str, done: int, total: int) -> None:
                if progress.stop.is_set():  # shutting down: stop like a crash, between commits
                    raise ServiceStartingError("demo KB ingest stopped by shutdown")
                progress.step(DEMO_STAGE if stage != "index" else "indexing demo KB", done, total)

            added = kb.add([settings.kb_source_dir], report).added
            logger.info("demo_kb_ingested documents=%d", len(added))
        elif kb.n_passages == 0:
            logger.warning(
                "kb_empty: no documents to suggest from; add them with `copilot kb add <folder>` "
                "(the demo KB is ingested only with `copilot serve --demo`)"
            )
        progress.step("warming up models")
        detector.detect("hola, buenos días")  # lingua loads its models on first use
        kb.warm_up()
    except BaseException:
        kb.close()
        raise
    # Reranker passage vectors fill in the background: readiness does not wait for a large KB, and
    # a passage not cached yet is embedded on first use.
    threading.Thread(target=kb.warm_reranker, name="rerank-warm", daemon=True).start()
    # The translator's models load on first use; a KB with passages it can translate loads them
    # now, off the request path.
    if settings.machine_translation:
        languages = {doc.language for doc in kb.list_documents()}
        threading.Thread(
            target=default_translator().warm,
            args=(languages,),
            name="translate-warm",
            daemon=True,
        ).start()
    return kb


def _kb_published(kb: KnowledgeBase) -> frozenset[str]:
    """Phones, e-mails and ids the KB itself prints: hotlines are not personal data, so the
    redactor keeps them in turns, replies and team memory."""
    texts = (text for doc in kb.documents() for text in (doc.title, doc.text))
    return Redactor().published_in(texts)


async def reload_kb(kb: KnowledgeBase, redactor: Redactor) -> bool:
    """Load the KB version another process committed, if any, and allowlist what it publishes.

    Each step runs in a worker thread; requests meanwhile search the old snapshot.

    Returns:
        True when a newer version was loaded.
    """
    if not (
        await anyio.to_thread.run_sync(kb.has_newer_version)
        and await anyio.to_thread.run_sync(kb.load_newer_version)
    ):
        return False
    redactor.publish(await anyio.to_thread.run_sync(_kb_published, kb))
    logger.info("kb_reloaded generation=%d passages=%d", kb.generation, kb.n_passages)
    return True


async def follow_kb(kb: KnowledgeBase, every_s: float, redactor: Redactor) -> None:
    """Load the KB versions other processes commit (`copilot kb add`, another replica), for ever."""
    while True:
        await anyio.sleep(every_s)
        # The loop's top level, like the start task's: an error here (a locked or unreadable
        # file) must not stop the service, which keeps serving the version it has.
        try:
            await reload_kb(kb, redactor)
        except Exception:
            logger.exception("kb_reload_failed")


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


async def start(
    settings: Settings,
    stack: AsyncExitStack,
    progress: StartProgress,
    tasks: TaskGroup,
    embedder: Embedder | None = None,
    reranker: Reranker | None = None,
    recognizer: SpeechRecognizer | None = None,
) -> AppState:
    """Build everything the service needs, reporting each stage to ``progress``.

    Args:
        settings: All configuration.
        stack: Receives the teardown of each part as it is built (the lifespan closes it).
        progress: Updated with the stage and its counts (demo ingest: documents, then passages).
        tasks: Runs the background work of the ready service (following KB changes); cancelled
            at shutdown.
        embedder: An already loaded embedder; loaded from the manifest if None.
        reranker: An already loaded reranker, used when ``settings.use_reranker``.
        recognizer: An already loaded speech recogniser; else loaded on the first call.

    Returns:
        The ready state.

    Raises:
        CopilotError: A model, the index or the database cannot be used (e.g.
            ``ModelNotFoundError``, ``IndexManifestMismatchError``, ``StorageError``).
    """
    progress.step("opening the log database")
    url = settings.effective_database_url
    await anyio.to_thread.run_sync(upgrade, url)
    engine = create_engine(url)
    stack.push_async_callback(engine.dispose)
    sessions = session_factory(engine)
    progress.step("loading models")
    base: Embedder = (
        embedder
        if embedder is not None
        else await anyio.to_thread.run_sync(embedder_from_settings, settings)
    )
    rerank = reranker if settings.use_reranker else None
    if rerank is None and settings.use_reranker:
        rerank = await anyio.to_thread.run_sync(reranker_from_settings, settings)
    batcher = (
        MicroBatchEmbedder(
            base, settings.micro_batch_max, settings.micro_batch_wait_ms, settings.cpu_workers
        )
        if settings.micro_batching
        else None
    )
    if batcher is not None:
        stack.callback(batcher.close)
    query_embedder: Embedder = batcher or base
    detector = LanguageDetector()
    kb = await anyio.to_thread.run_sync(
        _open_kb, settings, query_embedder, rerank, detector, progress
    )
    stack.callback(kb.close)
    progress.step("loading team memory")
    memory = TeamMemory(query_embedder)
    # Refreshed by `reload_kb` when another process commits a new KB version.
    redactor = Redactor(await anyio.to_thread.run_sync(_kb_published, kb))
    memory_sync = MemorySync(memory, sessions, engine)
    await memory_sync.load()
    metrics = ServiceMetrics()
    writer = LogWriter(
        sessions,
        DeadLetters(settings.effective_dead_letter_path),
        settings.write_timeout_s,
        on_depth=metrics.write_backlog.set,
        on_rejected=lambda job: metrics.writes_rejected.labels(job).inc(),
    )
    writer.start()
    stack.push_async_callback(writer.close, settings.shutdown_flush_s)
    pipeline = TurnPipeline(
        kb,
        query_embedder,
        memory,
        detector,
        settings,
        anyio.CapacityLimiter(settings.cpu_workers),
    )
    store, bus = await open_conversations(settings, stack, redactor)
    service = AssistService(
        store,
        bus,
        pipeline,
        memory,
        writer,
        redactor,
        metrics,
        sessions,
    )
    voice = _voice(settings, service, metrics, recognizer, redactor)
    if settings.kb_refresh_s > 0:
        tasks.start_soon(follow_kb, kb, settings.kb_refresh_s, redactor, name="kb-follow")
    # Other replicas' accepted replies (PostgreSQL only; it returns at once on SQLite).
    tasks.start_soon(memory_sync.run, name="memory-sync")
    logger.info(
        "service_ready kb_passages=%d memory=%d micro_batching=%s",
        kb.n_passages,
        len(memory),
        batcher is not None,
    )
    return AppState(settings, kb, service, writer, engine, sessions, metrics, voice)
