"""One place that maps named errors to HTTP statuses and WebSocket error codes, and renders them.

Every error body must render whatever the client sent: a NaN, raw bytes or a lone surrogate in the
request never reaches an error body, so answering a bad request can never fail with a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
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
    StorageError,
    UnauthenticatedError,
    UnknownConversationError,
    UnknownSuggestionError,
    WriteRejectedError,
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
    StorageError: (503, "storage_unavailable"),
    WriteRejectedError: (500, "write_rejected"),
}

RETRY_AFTER_S = 5
"""What a 503 for an unavailable log database tells the client to wait before sending again."""


def status_and_code(exc: CopilotError) -> tuple[int, str]:
    """HTTP status and error code of a named error (500 / ``internal_error`` when unmapped)."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 500, "internal_error"


def utf8_safe(text: str) -> str:
    """``text`` with any lone surrogate (legal in a JSON escape, never in UTF-8) escaped.

    Echoing one back as it came would fail the response's UTF-8 encoding.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 ``detail`` without ``input`` and ``ctx``.

    Those hold the client's values (customer text; a NaN or raw bytes that JSON cannot render).
    """
    return [
        {
            "type": e["type"],
            "loc": [p if isinstance(p, int) else utf8_safe(str(p)) for p in e["loc"]],
            "msg": utf8_safe(str(e["msg"])),
        }
        for e in exc.errors()
    ]


def _unread_body(exc: RequestValidationError) -> bool:
    """Whether a body model got the raw bytes: FastAPI parses JSON only when it is declared so."""
    return any(
        tuple(e["loc"]) == ("body",) and isinstance(e.get("input"), bytes) for e in exc.errors()
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every `CopilotError`, and invalid requests, into JSON."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, CopilotError):  # registered for CopilotError only
            raise exc
        status, code = status_and_code(exc)
        if status >= 500:
            logger.error("request_failed error=%s", type(exc).__name__)
        state = getattr(request.app.state, "copilot", None)
        if state is not None:
            state.metrics.errors.labels(code).inc()
        headers = (
            {"WWW-Authenticate": "Bearer"}
            if status == 401
            else {"Retry-After": str(RETRY_AFTER_S)}
            if isinstance(exc, StorageError)
            else None
        )
        return JSONResponse(
            {"type": "error", "code": code, "message": str(exc)},
            status_code=status,
            headers=headers,
        )

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for it only
            raise exc
        if _unread_body(exc):
            message = "the body must be JSON, sent with Content-Type: application/json"
            return JSONResponse(
                {"type": "error", "code": "unsupported_media_type", "message": message},
                status_code=415,
            )
        return JSONResponse({"detail": _validation_detail(exc)}, status_code=422)

    app.add_exception_handler(CopilotError, handle)
    app.add_exception_handler(RequestValidationError, invalid)
