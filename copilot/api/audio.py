"""The live audio stream of a call: ``/v1/conversations/{conversation_id}/audio``.

A JSON ``start_audio`` frame declares the format, then binary frames carry the audio. Transcripts
come back on this socket and go to every listener of the conversation stream, with the suggestions
of each final customer utterance. A bad frame gets an ``error`` frame; the call goes on.
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
    AUDIO_CLIENT_MESSAGE,
    AckMessage,
    EndAudioMessage,
    ErrorMessage,
    StartAudioMessage,
)
from copilot.api.state import AppState
from copilot.api.websocket import transcript_message
from copilot.errors import CopilotError, FrameTooLargeError, NotStartedError, UnauthenticatedError
from copilot.service.call import LiveCall
from copilot.service.session import TranscriptUpdate
from copilot.voice.formats import AudioFormat

logger = logging.getLogger(__name__)

_TYPES = {"start_audio", "end_audio"}
_CLOSE_UNAUTHENTICATED = 4401  # as on the conversation stream
_CLOSE_UNAVAILABLE = 1013


class _AudioConnection:
    """One audio WebSocket: its call once ``start_audio`` came."""

    def __init__(
        self, ws: WebSocket, state: AppState, conversation_id: str, principal: Principal
    ) -> None:
        self.ws = ws
        self.state = state
        self.conversation_id = conversation_id
        self.principal = principal
        self.call: LiveCall | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.ws.application_state is WebSocketState.CONNECTED:
                await self.ws.send_json(message)

    async def on_transcript(self, update: TranscriptUpdate) -> None:
        await self.send(transcript_message(self.conversation_id, update))

    async def error(self, code: str, message: str, ref: str | None = None) -> None:
        self.state.metrics.errors.labels(code).inc()
        await self.send(ErrorMessage(code=code, message=message, ref=ref).model_dump(mode="json"))

    async def fail(self, exc: CopilotError, ref: str | None = None) -> None:
        await self.error(status_and_code(exc)[1], str(exc), ref)

    async def audio(self, data: bytes) -> None:
        limit = self.state.settings.audio_frame_max_bytes
        if len(data) > limit:
            await self.fail(FrameTooLargeError(f"audio frame over {limit} bytes"))
            return
        if self.call is None:
            await self.fail(NotStartedError("send start_audio before audio frames"))
            return
        try:
            self.call.feed(data)
        except CopilotError as exc:
            await self.fail(exc)

    async def control(self, raw: str) -> bool:
        """Handle a JSON frame; False once ``end_audio`` was answered."""
        if len(raw.encode()) > self.state.settings.max_frame_bytes:
            await self.fail(FrameTooLargeError("control frame over the size limit"))
            return True
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            await self.error("invalid_json", "frame is not valid JSON")
            return True
        ref = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
        if not isinstance(obj, dict) or obj.get("type") not in _TYPES:
            kind = obj.get("type") if isinstance(obj, dict) else None
            await self.error("unknown_type", f"unknown message type {kind!r}", ref)
            return True
        try:
            message = AUDIO_CLIENT_MESSAGE.validate_python(obj)
        except ValidationError as exc:
            summary = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
            )
            await self.error("invalid_message", summary, ref)
            return True
        try:
            if isinstance(message, StartAudioMessage):
                await self._start(message)
                return True
            return await self._end(message)
        except CopilotError as exc:
            await self.fail(exc, ref)
            return True

    async def _start(self, message: StartAudioMessage) -> None:
        voice = self.state.voice
        if voice is None:
            raise NotStartedError("voice is disabled on this service (COPILOT_ASR_ENABLED)")
        if self.call is not None:
            raise NotStartedError("start_audio was already received on this socket")
        self.principal.check_agent(message.agent_id)
        service = self.state.service
        await ensure_owner(self.principal, service, self.conversation_id)
        fmt = AudioFormat(message.sample_rate, message.encoding, len(message.channels))
        _, resumed = await service.start(
            self.conversation_id,
            message.agent_id,
            message.channel,
            message.client,
            message.language,
        )
        await voice.scheduler.recognizer()  # load on first use, before audio piles up
        self.call = voice.open_call(
            self.conversation_id, fmt, list(message.channels), message.language, self.on_transcript
        )
        self.state.metrics.audio_calls.inc()
        await self.send(
            AckMessage(ref=message.id, detail="resumed" if resumed else "started").model_dump()
        )

    async def _end(self, message: EndAudioMessage) -> bool:
        if self.call is None:
            raise NotStartedError("send start_audio before end_audio")
        await self.close_call()
        await self.send(AckMessage(ref=message.id, detail="ended").model_dump())
        return False

    async def close_call(self) -> None:
        call, self.call = self.call, None
        if call is not None:
            await call.finish()
            self.state.metrics.audio_calls.dec()


async def audio_stream(websocket: WebSocket, conversation_id: str) -> None:
    """Serve one audio socket until ``end_audio`` or disconnect (open utterances are finished)."""
    state: AppState | None = getattr(websocket.app.state, "copilot", None)
    if state is None:
        await websocket.close(code=_CLOSE_UNAVAILABLE)
        return
    await websocket.accept()
    try:
        principal = authenticator(websocket).principal(presented_token(websocket, allow_query=True))
    except UnauthenticatedError as exc:
        await websocket.close(code=_CLOSE_UNAUTHENTICATED, reason=str(exc))
        return
    conn = _AudioConnection(websocket, state, conversation_id, principal)
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                break
            data = frame.get("bytes")
            if data is not None:
                await conn.audio(data)
            elif not await conn.control(frame.get("text") or ""):
                await websocket.close(code=1000)
                break
    except WebSocketDisconnect:
        pass
    except Exception:
        logger.exception("audio_stream_failed conversation_id=%s", conversation_id)
        if websocket.application_state is WebSocketState.CONNECTED:
            await websocket.close(code=1011)
    finally:
        await conn.close_call()
