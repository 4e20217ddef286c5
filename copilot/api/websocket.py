"""The conversation stream: ``/v1/conversations/{conversation_id}/stream``.

Every frame is validated; a bad one gets an ``error`` frame and the connection stays open. Customer
turns are handled in tasks, so a newer turn can arrive (and supersede) while one is being answered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from copilot.api.auth import Principal, authenticator, ensure_owner, presented_token
from copilot.api.error_handlers import status_and_code
from copilot.api.schemas import (
    CLIENT_MESSAGE,
    AckMessage,
    EndMessage,
    ErrorMessage,
    FeedbackMessage,
    StartMessage,
    SuggestionOut,
    SuggestionsMessage,
    TranscriptMessage,
    TurnLoggedMessage,
    TurnMessage,
)
from copilot.api.state import AppState
from copilot.domain import Speaker
from copilot.errors import (
    CopilotError,
    FrameTooLargeError,
    InvalidMessageError,
    NotStartedError,
    UnauthenticatedError,
)
from copilot.service.session import (
    ConversationSession,
    SessionEvent,
    TranscriptUpdate,
    TurnResult,
)

logger = logging.getLogger(__name__)

_TYPES = {"start", "turn", "feedback", "end"}
_CLOSE_UNAUTHENTICATED = 4401  # 4000-4999: application codes; mirrors HTTP 401


def suggestions_message(conversation_id: str, result: TurnResult) -> dict[str, Any]:
    """The ``suggestions`` frame for a turn result."""
    return SuggestionsMessage(
        conversation_id=conversation_id,
        turn_id=result.turn_id,
        language=result.language,
        kb_gap=result.kb_gap,
        latency_ms=round(result.latency_ms, 1),
        suggestions=[SuggestionOut.of(s) for s in result.suggestions],
    ).model_dump(mode="json")


def event_frame(conversation_id: str, event: SessionEvent) -> dict[str, Any]:
    """The server frame that tells a listener about a conversation event."""
    if isinstance(event, TurnResult):
        return suggestions_message(conversation_id, event)
    if isinstance(event, TranscriptUpdate):
        return transcript_message(conversation_id, event)
    return TurnLoggedMessage(
        conversation_id=conversation_id,
        turn_id=event.turn_id,
        speaker=event.speaker,
        text=event.text,
        at=event.at,
    ).model_dump(mode="json")


def transcript_message(conversation_id: str, event: TranscriptUpdate) -> dict[str, Any]:
    """The ``transcript`` frame of live call speech."""
    return TranscriptMessage(
        conversation_id=conversation_id,
        utterance_id=event.utterance_id,
        speaker=event.speaker,
        text=event.text,
        final=event.final,
        start_s=event.start_s,
        end_s=event.end_s,
    ).model_dump(mode="json")


def check_turn_length(text: str, max_chars: int) -> None:
    """Refuse an over-long turn the same way on WebSocket and REST.

    Raises:
        InvalidMessageError: The text is longer than ``max_chars``.
    """
    if len(text) > max_chars:
        raise InvalidMessageError(f"turn text over {max_chars} characters")


def _validation_summary(exc: ValidationError) -> str:
    # Field paths and reasons only: the offending values may hold customer data.
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


class _Connection:
    """One WebSocket connection to a conversation."""

    def __init__(
        self, ws: WebSocket, state: AppState, conversation_id: str, principal: Principal
    ) -> None:
        self.ws = ws
        self.state = state
        self.principal = principal
        self.conversation_id = conversation_id
        self.session: ConversationSession | None = None
        self._send_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.send_json(message)

    async def on_event(self, event: SessionEvent) -> None:
        """Listener of the conversation: forward an event as a frame."""
        await self.send(event_frame(self.conversation_id, event))

    async def error(self, code: str, message: str, ref: str | None = None) -> None:
        self.state.metrics.errors.labels(code).inc()
        await self.send(ErrorMessage(code=code, message=message, ref=ref).model_dump(mode="json"))

    async def ack(self, ref: str | None, detail: str = "ok") -> None:
        await self.send(AckMessage(ref=ref, detail=detail).model_dump(mode="json"))

    async def frame(self, raw: str | bytes) -> bool:
        """Handle one frame; False once the conversation has ended."""
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)
        if size > self.state.settings.max_frame_bytes:
            too_large = FrameTooLargeError(
                f"frame over {self.state.settings.max_frame_bytes} bytes"
            )
            await self.error(status_and_code(too_large)[1], str(too_large))
            return True
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            await self.error("invalid_json", "frame is not valid JSON")
            return True
        ref = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        if not isinstance(obj, dict) or obj.get("type") not in _TYPES:
            kind = obj.get("type") if isinstance(obj, dict) else None
            await self.error("unknown_type", f"unknown message type {kind!r}", ref)
            return True
        try:
            message = CLIENT_MESSAGE.validate_python(obj)
        except ValidationError as exc:
            await self.error("invalid_message", _validation_summary(exc), ref)
            return True
        try:
            return await self._dispatch(message)
        except CopilotError as exc:
            _, code = status_and_code(exc)
            await self.error(code, str(exc), ref or getattr(message, "turn_id", None))
            return True

    async def _dispatch(
        self, message: StartMessage | TurnMessage | FeedbackMessage | EndMessage
    ) -> bool:
        service = self.state.service
        if isinstance(message, StartMessage):
            self.principal.check_agent(message.agent_id)
            await ensure_owner(self.principal, service, self.conversation_id)
            session, resumed = await service.start(
                self.conversation_id,
                message.agent_id,
                message.channel,
                message.client,
                message.language,
            )
            self.session = session
            session.listeners.add(self.on_event)
            await self.ack(message.id, "resumed" if resumed else "started")
            if session.latest is not None:
                await self.send(suggestions_message(self.conversation_id, session.latest))
            return True
        if self.session is None:
            raise NotStartedError(f"send a start message before {message.type}")
        if isinstance(message, TurnMessage):
            await self._turn(message)
        elif isinstance(message, FeedbackMessage):
            recorded = await service.feedback(
                self.conversation_id,
                message.suggestion_id,
                message.action,
                message.final_text,
                message.reason,
            )
            await self.ack(
                message.id or message.suggestion_id, "recorded" if recorded else "duplicate"
            )
        else:
            service.end(self.conversation_id)
            await self.ack(message.id, "ended")
            return False
        return True

    async def _turn(self, message: TurnMessage) -> None:
        check_turn_length(message.text, self.state.settings.max_turn_chars)
        if message.speaker is not Speaker.CUSTOMER:
            accepted = await self.state.service.turn(
                self.conversation_id,
                message.turn_id,
                message.speaker,
                message.text,
                origin=self.on_event,
            )
            await self.ack(message.turn_id, "duplicate" if accepted.duplicate else "ok")
            return
        task = asyncio.create_task(self._customer_turn(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _customer_turn(self, message: TurnMessage) -> None:
        session = self.session
        if session is None:
            return
        try:
            accepted = await self.state.service.turn(
                self.conversation_id,
                message.turn_id,
                message.speaker,
                message.text,
                origin=self.on_event,
            )
        except CopilotError as exc:
            _, code = status_and_code(exc)
            await self.error(code, str(exc), message.turn_id)
            return
        except Exception:
            logger.exception("turn_failed conversation_id=%s", self.conversation_id)
            await self.error("internal_error", "the turn could not be handled", message.turn_id)
            return
        if accepted.duplicate:
            await self.ack(message.turn_id, "duplicate")
            if accepted.result is not None:
                await self.send(suggestions_message(self.conversation_id, accepted.result))
        elif accepted.superseded:
            await self.ack(message.turn_id, "superseded")
        # A fresh result was already broadcast to every listener, this connection included.


async def conversation_stream(websocket: WebSocket, conversation_id: str) -> None:
    """Serve one WebSocket connection until the client leaves or sends ``end``."""
    state: AppState | None = getattr(websocket.app.state, "copilot", None)
    if state is None:
        await websocket.close(code=1013)  # try again later: still starting
        return
    await websocket.accept()
    try:
        principal = authenticator(websocket).principal(presented_token(websocket, allow_query=True))
    except UnauthenticatedError as exc:
        # Closed after accepting, so a browser sees the code and reason (a refused handshake
        # shows only as a failed connection).
        await websocket.close(code=_CLOSE_UNAUTHENTICATED, reason=str(exc))
        return
    conn = _Connection(websocket, state, conversation_id, principal)
    state.metrics.connections.inc()
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            raw = frame.get("text")
            if raw is None:
                raw = frame.get("bytes") or b""
            if not await conn.frame(raw):
                await websocket.close(code=1000)
                break
    except WebSocketDisconnect:
        pass
    except Exception:
        logger.exception("websocket_failed conversation_id=%s", conversation_id)
        if websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(code=1011)
    finally:
        if conn.session is not None:
            conn.session.listeners.discard(conn.on_event)
        state.metrics.connections.dec()
