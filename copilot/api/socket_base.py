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
from copilot.api.error_handlers import status_and_code
from copilot.api.schemas import AckMessage, ErrorMessage
from copilot.api.state import AppState
from copilot.errors import CopilotError, FrameTooLargeError, UnauthenticatedError

M = TypeVar("M")

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401  # 4000-4999: application codes; mirrors HTTP 401
CLOSE_STARTING = 1013  # try again later: the service is still loading


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
    """Field paths and reasons only: the offending values may hold customer data."""
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


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
        """Send an ``error`` frame and count it."""
        self.state.metrics.errors.labels(code).inc()
        await self.send(ErrorMessage(code=code, message=message, ref=ref).model_dump(mode="json"))

    async def fail(self, exc: CopilotError, ref: str | None = None) -> None:
        """Send the ``error`` frame of a named error."""
        await self.error(status_and_code(exc)[1], str(exc), ref)

    async def ack(self, ref: str | None, detail: str = "ok") -> None:
        """Send an ``ack`` frame."""
        await self.send(AckMessage(ref=ref, detail=detail).model_dump(mode="json"))

    async def parse(
        self, raw: str | bytes, types: frozenset[str], adapter: TypeAdapter[M]
    ) -> tuple[M | None, str | None]:
        """Read a JSON frame into one of the ``types``; returns it and its ``id``.

        A frame over the size limit, not JSON, of an unknown type or invalid gets its ``error``
        frame here, and the message is None.
        """
        limit = self.state.settings.max_frame_bytes
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)
        if size > limit:
            await self.fail(FrameTooLargeError(f"frame over {limit} bytes"))
            return None, None
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            await self.error("invalid_json", "frame is not valid JSON")
            return None, None
        ref = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        if not isinstance(obj, dict) or obj.get("type") not in types:
            kind = obj.get("type") if isinstance(obj, dict) else None
            await self.error("unknown_type", f"unknown message type {kind!r}", ref)
            return None, ref
        try:
            return adapter.validate_python(obj), ref
        except ValidationError as exc:
            await self.error("invalid_message", validation_summary(exc), ref)
            return None, ref

    async def handle(self, text: str | None, data: bytes | None) -> bool:
        """Handle one text or binary frame; False to close the socket normally (1000)."""
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
