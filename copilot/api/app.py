"""`create_app`: the FastAPI app and the lifespan that loads models, index and database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.routing import APIRoute
from threadpoolctl import threadpool_limits

from copilot import __version__
from copilot.api import error_handlers
from copilot.api.audio import audio_stream
from copilot.api.auth import Authenticator
from copilot.api.routes import conversations, health, pages, supervisor, transcribe
from copilot.api.routes import kb as kb_routes
from copilot.api.startup import start
from copilot.api.state import StartProgress
from copilot.api.websocket import conversation_stream
from copilot.logscrub import install_salt, log_scrubber
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.loader import force_offline
from copilot.models.reranker import Reranker
from copilot.settings import Settings

logger = logging.getLogger(__name__)

_TAGS = [
    {"name": "health", "description": "Liveness, readiness (with start-up progress) and metrics."},
    {"name": "conversations", "description": "Turns and feedback by REST, and the logs."},
    {"name": "knowledge base", "description": "Manual KB search and document view."},
    {"name": "voice", "description": "Transcripts of recorded calls."},
    {"name": "supervisor", "description": "Reports, KB gaps and export for supervisors."},
]


def _operation_id(route: APIRoute) -> str:
    """The route's function name (``post_turn``), not FastAPI's path-mangled default."""
    return route.name


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
        progress = StartProgress()
        app.state.startup = progress
        app.state.copilot = None

        async def starting(stack: AsyncExitStack) -> None:
            app.state.copilot = await start(
                settings, stack, progress, tasks, embedder, reranker, recognizer
            )

        async def in_background(stack: AsyncExitStack) -> None:
            try:
                await starting(stack)
            # The start task's top level, like the CLI's: nothing above it would report the error,
            # and the service would say "starting" for ever. /readyz names it, the log has it all.
            except Exception as exc:
                if progress.stop.is_set():
                    return
                progress.error = type(exc).__name__
                logger.exception("start_failed stage=%s", progress.stage)

        async with AsyncExitStack() as stack, anyio.create_task_group() as tasks:
            if settings.background_start:
                tasks.start_soon(in_background, stack)
            else:
                await starting(stack)
            try:
                yield
            finally:
                progress.stop.set()
                tasks.cancel_scope.cancel()
                app.state.copilot = None
        logger.info("service_stopped")

    app = FastAPI(
        title="copilot",
        version=__version__,
        summary="Live agent assist: conversation turns in, evidence-backed suggestions out.",
        lifespan=lifespan,
        openapi_tags=_TAGS,
        responses=error_handlers.ERROR_RESPONSES,
        generate_unique_id_function=_operation_id,
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
