"""Plain values the service writes to and reads from the conversation, turn and feedback logs.

Every ``datetime`` is timezone-aware; the repositories store UTC and hand back aware UTC values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from copilot.domain import Evidence, FeedbackAction, Speaker, SuggestionKind


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A conversation between an agent and a customer; ``ended_at`` stays None while it is live."""

    conversation_id: str
    agent_id: str
    channel: str
    client: str | None
    language: str | None
    started_at: datetime
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One turn of a conversation, with what retrieval made of it.

    ``retrieval_confidence`` is in [0, 1] (None until the turn was handled); ``kb_gap`` marks a
    customer turn the knowledge base had no good answer for.
    """

    conversation_id: str
    turn_id: str
    speaker: Speaker
    text: str
    created_at: datetime
    language: str | None = None
    retrieval_confidence: float | None = None
    kb_gap: bool = False


@dataclass(frozen=True, slots=True)
class SuggestionRecord:
    """A suggestion shown for a turn: ``rank`` 0 is the first; ``latency_ms`` the turn's time."""

    suggestion_id: str
    conversation_id: str
    turn_id: str
    rank: int
    kind: SuggestionKind
    text: str
    confidence: float
    language: str
    evidence: tuple[Evidence, ...]
    latency_ms: float
    created_at: datetime
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """What an agent did with one suggestion.

    ``edit_distance`` counts characters between the suggestion and ``final_text``; ``similarity`` is
    in [0, 1], 1.0 for an unchanged reply.
    """

    suggestion_id: str
    conversation_id: str
    agent_id: str
    action: FeedbackAction
    final_text: str
    created_at: datetime
    reason: str | None = None
    edit_distance: int = 0
    similarity: float = 1.0


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """A customer turn and the reply the agent accepted or wrote for it (the team's memory)."""

    suggestion_id: str
    customer_text: str
    reply_text: str
    language: str | None
    client: str | None
    agent_id: str
    action: FeedbackAction
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LogFilters:
    """Which log rows to list: ``since`` is inclusive, ``until`` exclusive; None lets all through.

    ``agent_id`` and ``client`` match the conversation's; ``language`` matches the listed row's own
    language. Rows come newest first, ``limit`` at most, after skipping ``offset``.
    """

    since: datetime | None = None
    until: datetime | None = None
    agent_id: str | None = None
    client: str | None = None
    language: str | None = None
    conversation_id: str | None = None
    limit: int = 1000
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit < 1 or self.offset < 0:
            raise ValueError("LogFilters needs limit >= 1 and offset >= 0")
