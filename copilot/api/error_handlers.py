"""One place that maps named errors to HTTP statuses and WebSocket error codes, and renders them.

Every REST error has one shape (`ErrorOut`): named errors, FastAPI's validation errors and
Starlette's own (404, 405) alike, so a client parses one body. Every error body must render whatever
the client sent: a NaN, raw bytes or a lone surrogate in the request never reaches an error body, so
answering a bad request can never fail with a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from copilot.api.responses import ErrorOut, ValidationIssueOut
from copilot.errors import (
    AudioFormatError,
    CopilotError,
    DocumentNotFoundError,
    ForbiddenError,
    FrameTooLargeError,
    InvalidMessageError,
    ModelNotFoundError,
    NotStartedError,
    ServiceStartingError,
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
    ServiceStartingError: (503, "starting"),
    WriteRejectedError: (500, "write_rejected"),
}

RETRY_AFTER_S = 5
"""What a 503 (log database unavailable, service starting) tells the client to wait before sending
again."""

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "frame_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}
"""Codes of the errors Starlette and FastAPI raise themselves (unknown path, wrong method…)."""

_ERROR = {"model": ErrorOut}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_ERROR, "description": "``unauthenticated``: no API key, or an unknown one."},
    403: {**_ERROR, "description": "``forbidden``: the key's role or agent may not do this."},
    422: {**_ERROR, "description": "``invalid_request``: ``detail`` says what was invalid."},
    503: {
        **_ERROR,
        "description": "``starting`` (models or KB still loading) or ``storage_unavailable``: "
        "retry after the ``Retry-After`` seconds.",
    },
    "default": {
        **_ERROR,
        "description": "Any other error, e.g. ``not_found`` or ``frame_too_large``.",
    },
}
"""The error responses every operation declares in the OpenAPI document (one schema for all)."""


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


def _validation_detail(exc: RequestValidationError) -> list[ValidationIssueOut]:
    """FastAPI's 422 ``detail`` without ``input`` and ``ctx``.

    Those hold the client's values (customer text; a NaN or raw bytes that JSON cannot render).
    """
    return [
        ValidationIssueOut(
            type=e["type"],
            loc=[p if isinstance(p, int) else utf8_safe(str(p)) for p in e["loc"]],
            msg=utf8_safe(str(e["msg"])),
        )
        for e in exc.errors()
    ]


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    detail: list[ValidationIssueOut] | None = None,
) -> JSONResponse:
    """The one REST error body (`ErrorOut`); ``detail`` only when given."""
    body = ErrorOut(code=code, message=message, detail=detail)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


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
        if status >= 500 and not isinstance(exc, ServiceStartingError):  # expected, and polled
            logger.error("request_failed error=%s", type(exc).__name__)
        state = getattr(request.app.state, "copilot", None)
        if state is not None:
            state.metrics.errors.labels(code).inc()
        headers = (
            {"WWW-Authenticate": "Bearer"}
            if status == 401
            else {"Retry-After": str(RETRY_AFTER_S)}
            if isinstance(exc, StorageError | ServiceStartingError)
            else None
        )
        return error_response(status, code, str(exc), headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for it only
            raise exc
        if _unread_body(exc):
            message = "the body must be JSON, sent with Content-Type: application/json"
            return error_response(415, "unsupported_media_type", message)
        detail = _validation_detail(exc)
        message = "the request is invalid: " + "; ".join(
            ".".join(str(p) for p in issue.loc) + ": " + issue.msg for issue in detail[:3]
        )
        return error_response(422, "invalid_request", message, detail=detail)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, HTTPException):  # registered for it only
            raise exc
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, utf8_safe(str(exc.detail)), exc.headers)

    app.add_exception_handler(CopilotError, handle)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
