"""What the conversation and audio WebSockets share: opening, sending and reading JSON frames.

Both accept before they authenticate, so a browser sees the close code and reason (a refused
handshake shows only as a failed connection), and both answer a bad frame with an ``error`` frame
and keep the connection open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, TypeVar

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocketState

from copilot.api.auth import Principal, authenticator, presented_token
from copilot.api.error_handlers import status_and_code, utf8_safe
from copilot.api.schemas import AckMessage, ErrorMessage
from copilot.api.state import AppState
from copilot.errors import (
    CopilotError,
    FrameTooLargeError,
    InvalidMessageError,
    UnauthenticatedError,
)

M = TypeVar("M")

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401  # 4000-4999: application codes; mirrors HTTP 401
CLOSE_STARTING = 1013  # try again later: the service is still loading
MAX_REF_CHARS = 128  # the longest ``id`` the protocol accepts
_MAX_INT_DIGITS = 4300  # Python's own limit on str -> int conversion (sys.int_info)
_SHOWN_TYPE_CHARS = 40
_SHOWN_KEY_CHARS = 64


async def open_socket(websocket: WebSocket) -> tuple[AppState, Principal] | None:
    """Accept a connection and authenticate it; None (and the socket closed) when refused."""
    state: AppState | None = getattr(websocket.app.state, "copilot", None)
    if state is None:
        await websocket.close(code=CLOSE_STARTING)
        return None
    await websocket.accept()
    try:
        principal = authenticator(websocket).principal(presented_token(websocket, allow_query=True))
    except UnauthenticatedError as exc:
        await websocket.close(code=CLOSE_UNAUTHENTICATED, reason=str(exc))
        return None
    return state, principal


def validation_summary(exc: ValidationError) -> str:
    """Field paths and reasons only: the offending values may hold customer data.

    A path holds the client's own keys (an unknown field), so each part is cut short.
    """
    parts = [
        f"{'.'.join(str(p)[:_SHOWN_KEY_CHARS] for p in e['loc'])}: {e['msg']}"
        for e in exc.errors(include_url=False, include_input=False)[:5]
    ]
    return "; ".join(parts)


def echoable_ref(value: object) -> str | None:
    """The client's ``id`` to echo as ``ref``: a string the protocol allows that encodes as UTF-8.

    A JSON escape can carry a lone surrogate (``"\\ud800"``), which no UTF-8 frame can hold;
    echoing it would fail the send and close the socket.
    """
    if not isinstance(value, str) or len(value) > MAX_REF_CHARS:
        return None
    return value if utf8_safe(value) == value else None


def _json_int(digits: str) -> int:
    """Read a JSON integer; Python refuses to convert ones over 4,300 digits with a ValueError."""
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        raise InvalidMessageError(f"frame holds a number over {_MAX_INT_DIGITS} digits")
    return int(digits)


def _json_constant(name: str) -> float:
    """Refuse ``NaN`` and ``Infinity``: Python reads them, JSON (and our protocol) does not."""
    raise InvalidMessageError(f"frame holds {name}, which is not JSON")


class JsonSocket:
    """One accepted, authenticated WebSocket to a conversation.

    A subclass handles frames (`handle`) and releases what it holds (`closed`); `serve` runs the
    receive loop, so an unexpected failure closes the socket with 1011 the same way on each.
    """

    kind = "websocket"
    """Names the socket in the failure log."""

    def __init__(
        self, ws: WebSocket, state: AppState, conversation_id: str, principal: Principal
    ) -> None:
        self.ws = ws
        self.state = state
        self.conversation_id = conversation_id
        self.principal = principal
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        """Send a frame, unless the client has gone (frames from tasks may outlive it)."""
        async with self._send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.send_json(message)

    async def error(self, code: str, message: str, ref: str | None = None) -> None:
        """Send an ``error`` frame and count it (``message`` and ``ref`` made safe to encode)."""
        self.state.metrics.errors.labels(code).inc()
        frame = ErrorMessage(code=code, message=utf8_safe(message), ref=echoable_ref(ref))
        await self.send(frame.model_dump(mode="json"))

    async def fail(self, exc: CopilotError, ref: str | None = None) -> None:
        """Send the ``error`` frame of a named error."""
        await self.error(status_and_code(exc)[1], str(exc), ref)

    async def ack(self, ref: str | None, detail: str = "ok") -> None:
        """Send an ``ack`` frame."""
        await self.send(AckMessage(ref=echoable_ref(ref), detail=detail).model_dump(mode="json"))

    async def parse(
        self, raw: str, types: frozenset[str], adapter: TypeAdapter[M]
    ) -> tuple[M | None, str | None]:
        """Read a JSON text frame into one of the ``types``; returns it and its ``id``.

        A frame over the size limit, unreadable as JSON, of an unknown type or invalid gets its
        ``error`` frame here, and the message is None. Nothing a client sends can raise out of
        here: that would close the socket with 1011.
        """
        limit = self.state.settings.max_frame_bytes
        if len(raw.encode()) > limit:
            await self.fail(FrameTooLargeError(f"frame over {limit} bytes"))
            return None, None
        try:
            obj = json.loads(raw, parse_int=_json_int, parse_constant=_json_constant)
        except InvalidMessageError as exc:
            await self.error("invalid_json", str(exc))
            return None, None
        except RecursionError:
            await self.error("invalid_json", "frame is nested too deeply")
            return None, None
        except ValueError:  # JSONDecodeError
            await self.error("invalid_json", "frame is not valid JSON")
            return None, None
        if not isinstance(obj, dict):
            await self.error("unknown_type", "frame is not a JSON object")
            return None, None
        ref = echoable_ref(obj.get("id"))
        kind = obj.get("type")
        if not isinstance(kind, str):
            expected = ", ".join(sorted(types))
            await self.error("unknown_type", f"type must be a string, one of: {expected}", ref)
            return None, ref
        if kind not in types:
            shown = repr(kind[:_SHOWN_TYPE_CHARS])
            await self.error("unknown_type", f"unknown message type {shown}", ref)
            return None, ref
        try:
            return adapter.validate_python(obj), ref
        except ValidationError as exc:
            await self.error("invalid_message", validation_summary(exc), ref)
            return None, ref

    async def handle(self, text: str | None, data: bytes | None) -> bool:
        """Handle one text or binary frame; False to close the socket normally (1000).

        Text frames are UTF-8 by the WebSocket protocol (the server refuses others), so ``text``
        is always a valid string; ``data`` is raw bytes that only an audio socket expects.
        """
        raise NotImplementedError

    async def closed(self) -> None:
        """Release what the connection holds; runs however the socket ended."""

    async def serve(self) -> None:
        """Receive frames until the client leaves or `handle` ends the conversation."""
        try:
            while True:
                frame = await self.ws.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                if not await self.handle(frame.get("text"), frame.get("bytes")):
                    await self.ws.close(code=1000)
                    break
        except WebSocketDisconnect:
            pass
        except Exception:
            logger.exception("%s_failed conversation_id=%s", self.kind, self.conversation_id)
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.close(code=1011)
        finally:
            await self.closed()
