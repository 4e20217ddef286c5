"""The conversation-state port: the only way the service and the api reach a live conversation.

Two adapters implement it: `session.LocalConversations` (in process memory, one replica, the
default) and `redis_store.RedisConversations` with `redis_bus.RedisBus` (shared by replicas).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from copilot.domain import DialogueTurn, Speaker, Suggestion
from copilot.service.events import Listener, SessionEvent, TurnResult


@dataclass(frozen=True, slots=True)
class ConversationInfo:
    """Who a live conversation belongs to and what it is about."""

    conversation_id: str
    agent_id: str
    channel: str
    client: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class AddedTurn:
    """A turn that joined the dialogue: its customer sequence number, the dialogue as of it (the
    window, oldest first, this turn last) and the conversation's client and language."""

    seq: int
    window: tuple[DialogueTurn, ...]
    client: str | None
    language: str | None


@dataclass(slots=True)
class ConversationHistory:
    """A conversation rebuilt from the logs (redacted texts), for a start after its state was lost:
    turns oldest first, suggestions oldest first."""

    turns: list[tuple[str, Speaker, str]] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    feedback_given: set[str] = field(default_factory=set)
    latest: TurnResult | None = None


class ConversationStore(Protocol):
    """Per-conversation state: seen turn ids, the supersede sequence, the dialogue window, the
    latest result, suggestions (for feedback lookups), feedback given and customer turn texts.

    Every method that reads a conversation's state raises `NotStartedError` when it is not live,
    except `info`, which answers None. Shared adapters raise `SharedStateError` when their
    backend cannot be reached.
    """

    def starting(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Held by a start of this conversation: concurrent starts wait for each other."""
        ...

    def processing(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a customer turn's suggestions are made, logged and remembered: suggestions
        go out in turn order."""
        ...

    async def info(self, conversation_id: str) -> ConversationInfo | None:
        """The live conversation's info, or None when it is not started (or ended)."""
        ...

    async def open(self, info: ConversationInfo, history: ConversationHistory | None) -> None:
        """Register the conversation, or take a live one's new info; with ``history``, its state
        is first replaced by the logged one. Call it under `starting`."""
        ...

    async def seen(self, conversation_id: str, turn_id: str) -> bool:
        """Whether the turn id already joined the conversation."""
        ...

    async def add_turn(
        self, conversation_id: str, turn_id: str, speaker: Speaker, text: str
    ) -> AddedTurn | None:
        """Atomically add a turn (a customer turn also bumps the sequence and keeps its text);
        None when the turn id was already there."""
        ...

    async def current(self, conversation_id: str, seq: int) -> bool:
        """Whether no customer turn came after the one numbered ``seq``."""
        ...

    async def remember(self, conversation_id: str, result: TurnResult) -> None:
        """Keep the result as the latest, and its suggestions for feedback lookups (bounded)."""
        ...

    async def latest(self, conversation_id: str) -> TurnResult | None:
        """The latest result, resent on reconnect and to a duplicate of its turn."""
        ...

    async def suggestion(self, conversation_id: str, suggestion_id: str) -> Suggestion | None:
        """A suggestion sent in this conversation, or None."""
        ...

    async def feedback_given(self, conversation_id: str, suggestion_id: str) -> bool:
        """Whether feedback on the suggestion was already recorded."""
        ...

    async def mark_feedback(self, conversation_id: str, suggestion_id: str) -> bool:
        """Note feedback on the suggestion; False when it was noted already."""
        ...

    async def turn_text(self, conversation_id: str, turn_id: str) -> str | None:
        """A customer turn's redacted text, or None when it is no longer kept."""
        ...

    async def end(self, conversation_id: str) -> None:
        """Forget the conversation (its logs stay in the database)."""
        ...

    async def count(self) -> int:
        """How many conversations are live."""
        ...

    async def ping(self) -> bool | None:
        """Whether the shared backend answers; None when there is none (in process)."""
        ...


class ConversationBus(Protocol):
    """Delivers conversation events to the listeners of a conversation, on every replica."""

    def subscribe(self, conversation_id: str, listener: Listener) -> None:
        """Deliver the conversation's events to ``listener`` from now on."""
        ...

    def unsubscribe(self, conversation_id: str, listener: Listener) -> None:
        """Stop delivering to ``listener`` (no error when it was not subscribed)."""
        ...

    def listened(self) -> set[str]:
        """The conversations with a listener on this replica."""
        ...

    def connected(self) -> bool | None:
        """Whether events from other replicas reach this one; None when there are none."""
        ...

    async def publish(
        self, conversation_id: str, event: SessionEvent, skip: Listener | None = None
    ) -> None:
        """Deliver an event to every listener but ``skip`` (its origin); a dead one is dropped."""
        ...
