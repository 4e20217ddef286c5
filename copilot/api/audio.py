"""The live audio stream of a call: ``/v1/conversations/{conversation_id}/audio``.

A JSON ``start_audio`` frame declares the format, then binary frames carry the audio. Transcripts
come back on this socket and go to every listener of the conversation stream, with the suggestions
of each final customer utterance. A bad frame gets an ``error`` frame; the call goes on.
"""

from __future__ import annotations

import logging

from fastapi import WebSocket

from copilot.api.auth import Principal, ensure_owner
from copilot.api.deps import ConversationId
from copilot.api.schemas import (
    AUDIO_CLIENT_MESSAGE,
    EndAudioMessage,
    StartAudioMessage,
)
from copilot.api.socket_base import JsonSocket, open_socket
from copilot.api.state import AppState
from copilot.api.websocket import transcript_message
from copilot.errors import CopilotError, FrameTooLargeError, NotStartedError
from copilot.service.call import LiveCall
from copilot.service.events import TranscriptUpdate
from copilot.voice.formats import AudioFormat

logger = logging.getLogger(__name__)

_TYPES = frozenset({"start_audio", "end_audio"})


class _AudioConnection(JsonSocket):
    """One audio WebSocket: its call once ``start_audio`` came."""

    kind = "audio_stream"

    def __init__(
        self, ws: WebSocket, state: AppState, conversation_id: str, principal: Principal
    ) -> None:
        super().__init__(ws, state, conversation_id, principal)
        self.call: LiveCall | None = None

    async def on_transcript(self, update: TranscriptUpdate) -> None:
        await self.send(transcript_message(self.conversation_id, update))

    async def handle(self, text: str | None, data: bytes | None) -> bool:
        """Binary frames are audio, text frames control; False once ``end_audio`` was answered."""
        if data is not None:
            await self.audio(data)
            return True
        return await self.control(text or "")

    async def closed(self) -> None:
        await self.close_call()

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
        parsed = await self.parse(raw, _TYPES, AUDIO_CLIENT_MESSAGE)
        message, ref = parsed
        if message is None:
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
        self.call = await voice.open_call(
            self.conversation_id, fmt, list(message.channels), message.language, self.on_transcript
        )
        self.state.metrics.audio_calls.inc()
        await self.ack(message.id, "resumed" if resumed else "started")

    async def _end(self, message: EndAudioMessage) -> bool:
        if self.call is None:
            raise NotStartedError("send start_audio before end_audio")
        await self.close_call()
        await self.ack(message.id, "ended")
        return False

    async def close_call(self) -> None:
        call, self.call = self.call, None
        if call is not None:
            await call.finish()
            self.state.metrics.audio_calls.dec()


async def audio_stream(websocket: WebSocket, conversation_id: ConversationId) -> None:
    """Serve one audio socket until ``end_audio`` or disconnect (open utterances are finished)."""
    opened = await open_socket(websocket)
    if opened is None:
        return
    state, principal = opened
    await _AudioConnection(websocket, state, conversation_id, principal).serve()
