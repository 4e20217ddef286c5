"""Per-conversation state: the rolling turn window, sent suggestions and who is listening."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from copilot.domain import DialogueTurn, Speaker, Suggestion
from copilot.errors import NotStartedError


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


@dataclass(slots=True)
class ConversationSession:
    """A live conversation. Turns are processed one at a time (``lock``) so suggestions go out in
    turn order, and ``customer_seq`` lets a newer customer turn mark an older one stale."""

    conversation_id: str
    agent_id: str
    channel: str
    client: str | None
    language: str | None
    window: deque[DialogueTurn]
    seen_turn_ids: set[str] = field(default_factory=set)
    customer_seq: int = 0
    latest: TurnResult | None = None
    suggestions: OrderedDict[str, Suggestion] = field(default_factory=OrderedDict)
    feedback_given: set[str] = field(default_factory=set)
    turn_texts: OrderedDict[str, str] = field(default_factory=OrderedDict)
    listeners: set[Listener] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ended: bool = False
    last_seen: float = field(default_factory=time.monotonic)

    def refresh(
        self, agent_id: str, channel: str, client: str | None, language: str | None
    ) -> None:
        """Take a (re)start's agent and channel (a transfer), and its client and language if set."""
        self.last_seen = time.monotonic()
        self.agent_id = agent_id
        self.channel = channel
        self.client = client or self.client
        self.language = language or self.language

    def add_turn(self, turn_id: str, speaker: Speaker, text: str) -> int:
        """Append a turn to the window; returns the customer sequence number it belongs to."""
        self.last_seen = time.monotonic()
        self.seen_turn_ids.add(turn_id)
        self.window.append(DialogueTurn(speaker, text))
        if speaker is Speaker.CUSTOMER:
            self.customer_seq += 1
        return self.customer_seq

    def remember(self, result: TurnResult, keep: int = 200) -> None:
        """Keep the result for reconnects and its suggestions for feedback lookups (bounded)."""
        self.latest = result
        for suggestion in result.suggestions:
            self.suggestions[suggestion.suggestion_id] = suggestion
        while len(self.suggestions) > keep:
            self.suggestions.popitem(last=False)
        while len(self.turn_texts) > keep:
            self.turn_texts.popitem(last=False)

    async def broadcast(self, event: SessionEvent, skip: Listener | None = None) -> None:
        """Deliver an event to every listener but ``skip`` (its origin); a dead one is dropped."""
        for listener in list(self.listeners):
            if listener == skip:  # bound methods are new objects each time: compare by ==
                continue
            try:
                await listener(event)
            except (RuntimeError, OSError, ConnectionError):
                self.listeners.discard(listener)


class SessionRegistry:
    """The live conversations of one app, by id (owned by `AppState`, never a module global)."""

    def __init__(self, window_turns: int, idle_s: float = 4 * 3600) -> None:
        self._sessions: dict[str, ConversationSession] = {}
        self._window = window_turns
        self._idle_s = idle_s
        # Held only while a start is in progress: the entry goes when no one holds the lock.
        self._starts: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _evict_idle(self) -> None:
        """Forget conversations nobody touched for ``idle_s`` (their logs stay in the database)."""
        cutoff = time.monotonic() - self._idle_s
        for conversation_id in [
            cid for cid, s in self._sessions.items() if s.last_seen < cutoff and not s.listeners
        ]:
            del self._sessions[conversation_id]

    def starting(self, conversation_id: str) -> asyncio.Lock:
        """The lock a start of this conversation holds: a second request starting it at the same
        time waits, then finds the session the first one registered."""
        lock = self._starts.get(conversation_id)
        if lock is None:
            lock = self._starts[conversation_id] = asyncio.Lock()
        return lock

    def live(self, conversation_id: str) -> ConversationSession | None:
        """The registered, not ended session, or None."""
        self._evict_idle()
        session = self._sessions.get(conversation_id)
        return session if session is not None and not session.ended else None

    def new(
        self,
        conversation_id: str,
        agent_id: str,
        channel: str,
        client: str | None,
        language: str | None,
    ) -> ConversationSession:
        """A fresh session, not registered yet: `add` it once its conversation row is committed,
        so no turn can be accepted for a conversation the log does not hold."""
        return ConversationSession(
            conversation_id, agent_id, channel, client, language, deque(maxlen=self._window)
        )

    def add(self, session: ConversationSession) -> None:
        """Register a session (it replaces an ended one under the same id)."""
        self._sessions[session.conversation_id] = session

    def get(self, conversation_id: str) -> ConversationSession:
        """The started session.

        Raises:
            NotStartedError: No ``start`` was received for this conversation.
        """
        session = self._sessions.get(conversation_id)
        if session is None or session.ended:
            raise NotStartedError(f"conversation {conversation_id} has not been started")
        return session

    def find(self, conversation_id: str) -> ConversationSession | None:
        """The session if it exists (started or ended), else None."""
        return self._sessions.get(conversation_id)

    def end(self, conversation_id: str) -> None:
        """Mark the conversation ended; it is forgotten."""
        session = self._sessions.pop(conversation_id, None)
        if session is not None:
            session.ended = True

    def __len__(self) -> int:
        return len(self._sessions)
