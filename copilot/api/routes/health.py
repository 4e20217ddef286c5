"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from copilot.api.error_handlers import RETRY_AFTER_S
from copilot.storage.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready once models, index and database are loaded and the log database answers (503 while
    it does not: turns could not be acknowledged, so a balancer should send them elsewhere)."""
    state = getattr(request.app.state, "copilot", None)
    if state is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    database = await ping(state.engine)
    body = {
        "status": "ready" if database else "unavailable",
        "database": "ok" if database else "unavailable",
        "kb_passages": state.kb.n_passages,
        "conversations": len(state.service.registry),
        "write_backlog": state.writer.depth,
    }
    if database:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text exposition of this app's metrics."""
    state = getattr(request.app.state, "copilot", None)
    if state is None:
        return Response(status_code=503)
    state.metrics.write_backlog.set(state.writer.depth)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
