"""Conversation state in process memory: the default adapter of the conversation-state port, for
a service that runs as one process (no Redis)."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from copilot.domain import DialogueTurn, Speaker, Suggestion
from copilot.errors import NotStartedError
from copilot.service.conversations import AddedTurn, ConversationHistory, ConversationInfo
from copilot.service.events import Listener, Listeners, SessionEvent, TurnResult

KEEP = 200
"""Suggestions (and customer turn texts) a conversation keeps for feedback lookups."""


@dataclass(slots=True)
class ConversationSession:
    """A live conversation. Turns are processed one at a time (``lock``) so suggestions go out in
    turn order, and ``customer_seq`` lets a newer customer turn mark an older one stale."""

    info: ConversationInfo
    window: deque[DialogueTurn]
    seen_turn_ids: set[str] = field(default_factory=set)
    customer_seq: int = 0
    latest: TurnResult | None = None
    suggestions: OrderedDict[str, Suggestion] = field(default_factory=OrderedDict)
    feedback_given: set[str] = field(default_factory=set)
    turn_texts: OrderedDict[str, str] = field(default_factory=OrderedDict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_seen: float = field(default_factory=time.monotonic)

    def add_turn(self, turn_id: str, speaker: Speaker, text: str) -> int:
        """Append a turn to the window; returns the customer sequence number it belongs to."""
        self.last_seen = time.monotonic()
        self.seen_turn_ids.add(turn_id)
        self.window.append(DialogueTurn(speaker, text))
        if speaker is Speaker.CUSTOMER:
            self.customer_seq += 1
            self.turn_texts[turn_id] = text
        return self.customer_seq

    def remember(self, result: TurnResult, keep: int = KEEP) -> None:
        """Keep the result for reconnects and its suggestions for feedback lookups (bounded)."""
        self.latest = result
        for suggestion in result.suggestions:
            self.suggestions[suggestion.suggestion_id] = suggestion
        while len(self.suggestions) > keep:
            self.suggestions.popitem(last=False)
        while len(self.turn_texts) > keep:
            self.turn_texts.popitem(last=False)


class LocalConversations:
    """The live conversations of one app and their listeners, by id: both the store and the bus
    of the port (owned by `AppState` through the service, never a module global).

    The methods are coroutines for the port's sake; none of them suspends, so each runs as one
    step of the event loop, as the session methods it wraps always did.
    """

    def __init__(self, window_turns: int, idle_s: float = 4 * 3600) -> None:
        self._sessions: dict[str, ConversationSession] = {}
        self._listeners = Listeners()
        self._window = window_turns
        self._idle_s = idle_s
        # Held only while a start is in progress: the entry goes when no one holds the lock.
        self._starts: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _evict_idle(self) -> None:
        """Forget conversations nobody touched for ``idle_s`` (their logs stay in the database)."""
        cutoff = time.monotonic() - self._idle_s
        listened = self._listeners.conversations()
        for conversation_id in [
            cid for cid, s in self._sessions.items() if s.last_seen < cutoff and cid not in listened
        ]:
            del self._sessions[conversation_id]

    def _get(self, conversation_id: str) -> ConversationSession:
        session = self._sessions.get(conversation_id)
        if session is None:
            raise NotStartedError(f"conversation {conversation_id} has not been started")
        return session

    def starting(self, conversation_id: str) -> asyncio.Lock:
        """The lock a start of this conversation holds: a second request starting it at the same
        time waits, then finds the session the first one registered."""
        lock = self._starts.get(conversation_id)
        if lock is None:
            lock = self._starts[conversation_id] = asyncio.Lock()
        return lock

    def processing(self, conversation_id: str) -> asyncio.Lock:
        """The session's turn lock (a fresh one once it ended: nothing is left to order)."""
        session = self._sessions.get(conversation_id)
        return session.lock if session is not None else asyncio.Lock()

    async def info(self, conversation_id: str) -> ConversationInfo | None:
        self._evict_idle()
        session = self._sessions.get(conversation_id)
        return session.info if session is not None else None

    async def open(self, info: ConversationInfo, history: ConversationHistory | None) -> None:
        session = self._sessions.get(info.conversation_id)
        if session is None or history is not None:
            session = ConversationSession(info, deque(maxlen=self._window))
            if history is not None:
                _fill(session, history)
            self._sessions[info.conversation_id] = session
        session.info = info
        session.last_seen = time.monotonic()

    async def seen(self, conversation_id: str, turn_id: str) -> bool:
        return turn_id in self._get(conversation_id).seen_turn_ids

    async def add_turn(
        self, conversation_id: str, turn_id: str, speaker: Speaker, text: str
    ) -> AddedTurn | None:
        session = self._get(conversation_id)
        if turn_id in session.seen_turn_ids:
            return None
        seq = session.add_turn(turn_id, speaker, text)
        info = session.info
        return AddedTurn(seq, tuple(session.window), info.client, info.language)

    async def current(self, conversation_id: str, seq: int) -> bool:
        session = self._sessions.get(conversation_id)
        return session is None or session.customer_seq == seq

    async def remember(self, conversation_id: str, result: TurnResult) -> None:
        session = self._sessions.get(conversation_id)
        if session is not None:
            session.remember(result)

    async def latest(self, conversation_id: str) -> TurnResult | None:
        session = self._sessions.get(conversation_id)
        return session.latest if session is not None else None

    async def suggestion(self, conversation_id: str, suggestion_id: str) -> Suggestion | None:
        session = self._sessions.get(conversation_id)
        return session.suggestions.get(suggestion_id) if session is not None else None

    async def feedback_given(self, conversation_id: str, suggestion_id: str) -> bool:
        session = self._sessions.get(conversation_id)
        return session is not None and suggestion_id in session.feedback_given

    async def mark_feedback(self, conversation_id: str, suggestion_id: str) -> bool:
        session = self._sessions.get(conversation_id)
        if session is None:
            return True
        if suggestion_id in session.feedback_given:
            return False
        session.feedback_given.add(suggestion_id)
        return True

    async def turn_text(self, conversation_id: str, turn_id: str) -> str | None:
        session = self._sessions.get(conversation_id)
        return session.turn_texts.get(turn_id) if session is not None else None

    async def end(self, conversation_id: str) -> None:
        self._sessions.pop(conversation_id, None)

    async def count(self) -> int:
        return len(self._sessions)

    async def ping(self) -> bool | None:
        return None

    def subscribe(self, conversation_id: str, listener: Listener) -> None:
        self._listeners.add(conversation_id, listener)

    def unsubscribe(self, conversation_id: str, listener: Listener) -> None:
        self._listeners.discard(conversation_id, listener)

    def listened(self) -> set[str]:
        return self._listeners.conversations()

    def connected(self) -> bool | None:
        return None

    async def publish(
        self, conversation_id: str, event: SessionEvent, skip: Listener | None = None
    ) -> None:
        await self._listeners.deliver(conversation_id, event, skip)


def _fill(session: ConversationSession, history: ConversationHistory) -> None:
    for turn_id, speaker, text in history.turns:
        session.add_turn(turn_id, speaker, text)
    for suggestion in history.suggestions:
        session.suggestions[suggestion.suggestion_id] = suggestion
    session.feedback_given.update(history.feedback_given)
    if history.latest is not None:
        session.remember(history.latest)
