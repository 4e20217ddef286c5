"""The conversation stream: ``/v1/conversations/{conversation_id}/stream``.

Every frame is validated; a bad one gets an ``error`` frame and the connection stays open. Customer
turns are handled in tasks, so a newer turn can arrive (and supersede) while one is being answered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import WebSocket

from copilot.api.auth import Principal, ensure_owner
from copilot.api.deps import ConversationId
from copilot.api.schemas import (
    CLIENT_MESSAGE,
    EndMessage,
    FeedbackMessage,
    StartMessage,
    SuggestionOut,
    SuggestionsMessage,
    TranscriptMessage,
    TurnLoggedMessage,
    TurnMessage,
)
from copilot.api.socket_base import JsonSocket, open_socket
from copilot.api.state import AppState
from copilot.domain import Speaker
from copilot.errors import (
    CopilotError,
    InvalidMessageError,
    NotStartedError,
)
from copilot.service.events import SessionEvent, TranscriptUpdate, TurnResult

logger = logging.getLogger(__name__)

_TYPES = frozenset({"start", "turn", "feedback", "end"})


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


class _Connection(JsonSocket):
    """One WebSocket connection to a conversation."""

    def __init__(
        self, ws: WebSocket, state: AppState, conversation_id: str, principal: Principal
    ) -> None:
        super().__init__(ws, state, conversation_id, principal)
        self.started = False
        self.tasks: set[asyncio.Task[None]] = set()

    async def on_event(self, event: SessionEvent) -> None:
        """Listener of the conversation: forward an event as a frame."""
        await self.send(event_frame(self.conversation_id, event))

    async def handle(self, text: str | None, data: bytes | None) -> bool:
        """Handle one frame; False once it has ended.

        The protocol is UTF-8 JSON text frames: a binary frame gets an ``error`` frame rather than
        a guess at its encoding (Python's JSON reader would take UTF-16 or UTF-32 bytes too).
        """
        if text is None:
            await self.error("binary_frame", "send each message as a UTF-8 JSON text frame")
            return True
        return await self.frame(text)

    async def closed(self) -> None:
        if self.started:
            self.state.service.bus.unsubscribe(self.conversation_id, self.on_event)
        self.state.metrics.connections.dec()

    async def frame(self, raw: str) -> bool:
        """Handle one frame; False once the conversation has ended."""
        parsed = await self.parse(raw, _TYPES, CLIENT_MESSAGE)
        message, ref = parsed
        if message is None:
            return True
        try:
            return await self._dispatch(message)
        except CopilotError as exc:
            await self.fail(exc, ref or getattr(message, "turn_id", None))
            return True

    async def _dispatch(
        self, message: StartMessage | TurnMessage | FeedbackMessage | EndMessage
    ) -> bool:
        service = self.state.service
        if isinstance(message, StartMessage):
            self.principal.check_agent(message.agent_id)
            await ensure_owner(self.principal, service, self.conversation_id)
            _, resumed = await service.start(
                self.conversation_id,
                message.agent_id,
                message.channel,
                message.client,
                message.language,
            )
            # Listening before the latest is read: a result made meanwhile may come twice, but
            # none is missed.
            self.started = True
            service.bus.subscribe(self.conversation_id, self.on_event)
            latest = await service.store.latest(self.conversation_id)
            await self.ack(message.id, "resumed" if resumed else "started")
            if latest is not None:
                await self.send(suggestions_message(self.conversation_id, latest))
            return True
        if not self.started:
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
            await service.end(self.conversation_id)
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
        try:
            accepted = await self.state.service.turn(
                self.conversation_id,
                message.turn_id,
                message.speaker,
                message.text,
                origin=self.on_event,
            )
        except CopilotError as exc:
            await self.fail(exc, message.turn_id)
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


async def conversation_stream(websocket: WebSocket, conversation_id: ConversationId) -> None:
    """Serve one WebSocket connection until the client leaves or sends ``end``."""
    opened = await open_socket(websocket)
    if opened is None:
        return
    state, principal = opened
    conn = _Connection(websocket, state, conversation_id, principal)
    state.metrics.connections.inc()
    await conn.serve()
