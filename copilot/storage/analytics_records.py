"""Plain values the supervisor reports read from the logs: counts, latencies, edits, export rows.

Every ``datetime`` is timezone-aware UTC, like the other records, except time-bucket starts: those
are in the zone the buckets were cut in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from copilot.domain import FeedbackAction, Speaker, SuggestionKind
from copilot.storage.records import ConversationRecord


class GroupBy(StrEnum):
    """What the feedback counts are grouped by (``topic`` is resolved by the service)."""

    OVERALL = "overall"
    AGENT = "agent"
    CLIENT = "client"
    LANGUAGE = "language"
    TOPIC = "topic"


class TimeBucket(StrEnum):
    """Width of a time bucket; buckets start on whole hours or days of a time zone (UTC unless
    told otherwise): a day is a calendar day there, 23 or 25 hours long on a DST change."""

    HOUR = "hour"
    DAY = "day"

    @property
    def seconds(self) -> int:
        """Nominal width in seconds (a day in a zone with DST may be an hour longer or shorter)."""
        return 3600 if self is TimeBucket.HOUR else 86_400

    def start_of(self, at: datetime, zone: tzinfo = UTC) -> datetime:
        """The start of the bucket holding ``at`` (aware), as an aware datetime in ``zone``.

        Args:
            at: the instant.
            zone: where hours and days are cut (an IANA ``ZoneInfo``, or UTC).
        """
        local = at.astimezone(zone).replace(minute=0, second=0, microsecond=0)
        if self is TimeBucket.DAY:
            local = local.replace(hour=0)
        # Normalise through UTC so the offset is the one in force at the start (DST changes).
        return local.astimezone(UTC).astimezone(zone)


@dataclass(frozen=True, slots=True)
class FeedbackCounts:
    """Suggestions shown in a group and the agents' verdicts on them.

    ``key`` is the group's value (an agent id, a client, a language, a tag, or a bucket start in
    ISO 8601); None for the overall group or a row without that value.
    """

    key: str | None
    shown: int
    accepted: int
    edited: int
    rejected: int

    @property
    def with_feedback(self) -> int:
        """Suggestions the agent accepted, edited or rejected."""
        return self.accepted + self.edited + self.rejected

    @property
    def no_feedback(self) -> int:
        """Suggestions shown that got no verdict (the agent used another or none)."""
        return self.shown - self.with_feedback


@dataclass(frozen=True, slots=True)
class TurnLatency:
    """How long one customer turn took to get its suggestions, in milliseconds."""

    conversation_id: str
    turn_id: str
    created_at: datetime
    latency_ms: float


@dataclass(frozen=True, slots=True)
class CitedDocuments:
    """The KB documents one suggestion's evidence cites, and the verdict on it (None: none)."""

    suggestion_id: str
    doc_ids: tuple[str, ...]
    action: FeedbackAction | None


@dataclass(frozen=True, slots=True)
class EditedSuggestion:
    """An edited suggestion beside the text the agent sent; ``similarity`` in [0, 1]."""

    suggestion_id: str
    conversation_id: str
    turn_id: str
    agent_id: str
    client: str | None
    language: str
    customer_text: str
    suggestion_text: str
    final_text: str
    similarity: float
    edit_distance: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GapTurn:
    """A customer turn the KB failed: flagged ``kb_gap``, or every verdict on it a rejection.

    ``reason`` is ``kb_gap`` or ``rejected``; a turn that is both is reported as ``kb_gap``.
    """

    conversation_id: str
    turn_id: str
    text: str
    language: str | None
    client: str | None
    created_at: datetime
    retrieval_confidence: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """A conversation with the size of its log; ``escalations`` counts customer turns that asked
    for a supervisor or showed anger (they got an ``escalate`` suggestion)."""

    conversation: ConversationRecord
    turns: int
    suggestions: int
    feedback: int
    kb_gaps: int
    escalations: int = 0


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One suggestion of the logs with its turn, verdict and evidence, as exported.

    ``action`` is None when the agent gave no verdict; ``similarity`` and ``edit_distance`` are then
    None too.
    """

    conversation_id: str
    agent_id: str
    client: str | None
    channel: str
    turn_id: str
    speaker: Speaker
    turn_text: str
    turn_at: datetime
    kb_gap: bool
    retrieval_confidence: float | None
    suggestion_id: str
    rank: int
    kind: SuggestionKind
    suggestion_text: str
    confidence: float
    language: str
    latency_ms: float
    suggested_at: datetime
    evidence_doc_ids: tuple[str, ...]
    action: FeedbackAction | None
    final_text: str | None
    similarity: float | None
    edit_distance: int | None
    reason: str | None
    feedback_at: datetime | None
