"""One place that maps named errors to HTTP statuses and WebSocket error codes."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from copilot.errors import (
    AudioFormatError,
    CopilotError,
    DocumentNotFoundError,
    ForbiddenError,
    FrameTooLargeError,
    InvalidMessageError,
    ModelNotFoundError,
    NotStartedError,
    UnauthenticatedError,
    UnknownConversationError,
    UnknownSuggestionError,
)

logger = logging.getLogger(__name__)

_STATUS: dict[type[CopilotError], tuple[int, str]] = {
    NotStartedError: (409, "not_started"),
    UnknownSuggestionError: (404, "unknown_suggestion"),
    UnknownConversationError: (404, "unknown_conversation"),
    DocumentNotFoundError: (404, "unknown_document"),
    FrameTooLargeError: (413, "frame_too_large"),
    InvalidMessageError: (422, "invalid_message"),
    UnauthenticatedError: (401, "unauthenticated"),
    ForbiddenError: (403, "forbidden"),
    AudioFormatError: (415, "invalid_audio"),
    ModelNotFoundError: (503, "asr_unavailable"),
}


def status_and_code(exc: CopilotError) -> tuple[int, str]:
    """HTTP status and error code of a named error (500 / ``internal_error`` when unmapped)."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500, "internal_error"


def install(app: FastAPI) -> None:
    """Register the handler that turns every `CopilotError` into a JSON error body."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, CopilotError):  # registered for CopilotError only
            raise exc
        status, code = status_and_code(exc)
        if status >= 500:
            logger.error("request_failed error=%s", type(exc).__name__)
        state = getattr(request.app.state, "copilot", None)
        if state is not None:
            state.metrics.errors.labels(code).inc()
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            {"type": "error", "code": code, "message": str(exc)},
            status_code=status,
            headers=headers,
        )

    app.add_exception_handler(CopilotError, handle)
