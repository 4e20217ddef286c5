"""Liveness, readiness (with the start's progress) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from copilot.api.deps import StateDep
from copilot.api.error_handlers import RETRY_AFTER_S
from copilot.api.responses import HealthOut, ReadyOut
from copilot.api.state import AppState, StartProgress
from copilot.storage.db import ping

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The start failed (see `/readyz`)."}},
)
async def healthz(request: Request) -> JSONResponse:
    """The process is up: 200 while starting too, 503 once a background start has failed (a
    supervisor restarts it, as it would a start that crashed)."""
    progress: StartProgress | None = getattr(request.app.state, "startup", None)
    if progress is not None and progress.error is not None:
        return JSONResponse(HealthOut(status="failed").model_dump(), status_code=503)
    return JSONResponse(HealthOut().model_dump())


def _starting(progress: StartProgress | None) -> ReadyOut:
    if progress is None:
        return ReadyOut(status="starting")
    if progress.error is not None:
        return ReadyOut(status="failed", stage=progress.stage, error=progress.error)
    return ReadyOut(
        status="starting", stage=progress.stage, done=progress.done, total=progress.total
    )


async def _ready(state: AppState) -> ReadyOut:
    database = await ping(state.engine)
    shared = await state.service.store.ping()
    if shared and state.service.bus.connected() is False:
        shared = False  # Redis answers, but this replica would miss the others' events
    redis = None if shared is None else "ok" if shared else "unavailable"
    return ReadyOut(
        status="ready" if database and shared is not False else "unavailable",
        database="ok" if database else "unavailable",
        redis=redis,
        kb="ok" if state.kb.n_passages else "empty",
        kb_passages=state.kb.n_passages,
        conversations=await state.service.store.count() if shared is not False else None,
        write_backlog=state.writer.depth,
    )


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Starting (with progress) or unavailable."}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready once models, index and database are loaded and the log database answers.

    503 while starting (``stage``, ``done`` and ``total`` say what is loading) and while the
    database does not answer (turns could not be acknowledged, so a balancer should send them
    elsewhere). ``kb: "empty"`` is ready, but with no documents to suggest from.
    """
    state: AppState | None = getattr(request.app.state, "copilot", None)
    body = (
        await _ready(state)
        if state is not None
        else _starting(getattr(request.app.state, "startup", None))
    )
    content = body.model_dump(mode="json", exclude_none=True)
    if body.status == "ready":
        return JSONResponse(content)
    return JSONResponse(content, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus text exposition of this app's metrics (503 ``starting`` until ready)."""
    state.metrics.write_backlog.set(state.writer.depth)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
