"""What a conversation tells its listeners, and the JSON form those events and suggestions take
when they travel between replicas (Redis)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from copilot.domain import Evidence, Speaker, Suggestion, SuggestionKind


@dataclass(slots=True)
class TurnResult:
    """The suggestions sent for one customer turn, kept to resend on reconnect."""

    turn_id: str
    language: str
    kb_gap: bool
    latency_ms: float
    suggestions: tuple[Suggestion, ...]


@dataclass(frozen=True, slots=True)
class TurnLogged:
    """A turn was accepted into the conversation (its text already redacted)."""

    turn_id: str
    speaker: Speaker
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class TranscriptUpdate:
    """Live call speech as text: interim (grows while the person speaks) or final (redacted).

    ``start_s`` and ``end_s`` are seconds since the leg's audio began.
    """

    utterance_id: str
    speaker: Speaker
    text: str
    final: bool
    start_s: float
    end_s: float


SessionEvent = TurnLogged | TurnResult | TranscriptUpdate
"""What a conversation tells its listeners; the api layer turns each into a wire frame."""

Listener = Callable[[SessionEvent], Awaitable[None]]
"""Delivers one event to one connection (or other subscriber) of a conversation."""


class Listeners:
    """This replica's listeners, by conversation: what both bus adapters deliver to."""

    def __init__(self) -> None:
        self._by_conversation: dict[str, set[Listener]] = {}

    def add(self, conversation_id: str, listener: Listener) -> None:
        self._by_conversation.setdefault(conversation_id, set()).add(listener)

    def discard(self, conversation_id: str, listener: Listener) -> None:
        """Stop delivering to ``listener`` (no error when it was not listening)."""
        listeners = self._by_conversation.get(conversation_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._by_conversation[conversation_id]

    def conversations(self) -> set[str]:
        """The conversations with a listener here."""
        return set(self._by_conversation)

    async def deliver(
        self, conversation_id: str, event: SessionEvent, skip: Listener | None = None
    ) -> None:
        """Deliver to every listener of the conversation but ``skip`` (its origin); one that fails
        to send is dropped."""
        for listener in list(self._by_conversation.get(conversation_id, ())):
            if listener == skip:  # bound methods are new objects each time: compare by ==
                continue
            try:
                await listener(event)
            except (RuntimeError, OSError, ConnectionError):
                self.discard(conversation_id, listener)


def suggestion_to_json(s: Suggestion) -> dict[str, Any]:
    """A suggestion as plain JSON values (evidence included)."""
    return {
        "id": s.suggestion_id,
        "turn_id": s.turn_id,
        "text": s.text,
        "kind": s.kind.value,
        "confidence": s.confidence,
        "language": s.language,
        "evidence": [
            [e.doc_id, e.title, e.section, e.snippet, e.score, e.source, e.language]
            for e in s.evidence
        ],
        "origin": s.origin,
    }


def suggestion_from_json(d: dict[str, Any]) -> Suggestion:
    """The inverse of `suggestion_to_json`.

    Raises:
        KeyError, TypeError, ValueError: ``d`` is not what `suggestion_to_json` writes.
    """
    return Suggestion(
        d["id"],
        d["turn_id"],
        d["text"],
        SuggestionKind(d["kind"]),
        float(d["confidence"]),
        d["language"],
        tuple(Evidence(*e) for e in d["evidence"]),
        d["origin"],
    )


def result_to_json(r: TurnResult) -> dict[str, Any]:
    """A turn result as plain JSON values."""
    return {
        "turn_id": r.turn_id,
        "language": r.language,
        "kb_gap": r.kb_gap,
        "latency_ms": r.latency_ms,
        "suggestions": [suggestion_to_json(s) for s in r.suggestions],
    }


def result_from_json(d: dict[str, Any]) -> TurnResult:
    """The inverse of `result_to_json`."""
    return TurnResult(
        d["turn_id"],
        d["language"],
        bool(d["kb_gap"]),
        float(d["latency_ms"]),
        tuple(suggestion_from_json(s) for s in d["suggestions"]),
    )


def event_to_json(event: SessionEvent) -> str:
    """One event as a JSON text, tagged with its kind."""
    body: dict[str, Any]
    if isinstance(event, TurnResult):
        body = {"kind": "result", **result_to_json(event)}
    elif isinstance(event, TurnLogged):
        body = {
            "kind": "turn",
            "turn_id": event.turn_id,
            "speaker": event.speaker.value,
            "text": event.text,
            "at": event.at.isoformat(),
        }
    else:
        body = {
            "kind": "transcript",
            "utterance_id": event.utterance_id,
            "speaker": event.speaker.value,
            "text": event.text,
            "final": event.final,
            "start_s": event.start_s,
            "end_s": event.end_s,
        }
    return json.dumps(body, ensure_ascii=False)


def event_from_json(raw: str | dict[str, Any]) -> SessionEvent:
    """The inverse of `event_to_json` (it takes the parsed object too).

    Raises:
        KeyError, TypeError, ValueError: ``raw`` is not an event `event_to_json` wrote.
    """
    d: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    kind = d["kind"]
    if kind == "result":
        return result_from_json(d)
    if kind == "turn":
        return TurnLogged(
            d["turn_id"], Speaker(d["speaker"]), d["text"], datetime.fromisoformat(d["at"])
        )
    if kind == "transcript":
        return TranscriptUpdate(
            d["utterance_id"],
            Speaker(d["speaker"]),
            d["text"],
            bool(d["final"]),
            float(d["start_s"]),
            float(d["end_s"]),
        )
    raise ValueError(f"unknown event kind {kind!r}")
