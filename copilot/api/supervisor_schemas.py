"""Wire models of the supervisor report routes (``/v1/supervisor/*``), read from the report values.

Each model mirrors a plain value of `copilot.service.reports` or `copilot.storage` and is built with
``Model.model_validate(value, from_attributes=True)``. Datetimes are aware: log times in UTC,
time-bucket starts with the offset of the zone the buckets were cut in.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from copilot.api.responses import FeedbackRowOut, SuggestionRowOut, TurnRowOut
from copilot.domain import FeedbackAction, Speaker, SuggestionKind
from copilot.storage.analytics_records import FeedbackCounts, GroupBy, TimeBucket


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


def _share(x: int, of: int) -> float | None:
    return round(x / of, 4) if of else None


class VerdictCounts(_Out):
    """Suggestions shown in one group (or time bucket) and the agents' verdicts on them.

    Rates are shares of the suggestions with a verdict (4 places); None when there is none.
    """

    key: str | None = Field(description="Group value or bucket start (ISO 8601); None: overall.")
    shown: int
    accepted: int
    edited: int
    rejected: int
    with_feedback: int
    no_feedback: int
    accepted_rate: float | None
    edited_rate: float | None
    rejected_rate: float | None
    feedback_rate: float | None = Field(description="Share of the shown ones with a verdict.")

    @classmethod
    def of(cls, c: FeedbackCounts) -> VerdictCounts:
        """The wire form of one group's counts, with its rates."""
        n = c.with_feedback
        return cls(
            key=c.key,
            shown=c.shown,
            accepted=c.accepted,
            edited=c.edited,
            rejected=c.rejected,
            with_feedback=n,
            no_feedback=c.no_feedback,
            accepted_rate=_share(c.accepted, n),
            edited_rate=_share(c.edited, n),
            rejected_rate=_share(c.rejected, n),
            feedback_rate=_share(n, c.shown),
        )


class RatesReport(_Out):
    """Verdict counts per group, and per time bucket when a bucket was asked for."""

    group_by: GroupBy
    groups: list[VerdictCounts]
    time_zone: str = Field(description="IANA zone the time buckets are cut in.")
    bucket: TimeBucket | None = None
    series: list[VerdictCounts] | None = None


class LatencyPoint(_Out):
    """Latency percentiles (ms) of the customer turns in one bucket (``start`` None: overall)."""

    start: datetime | None
    turns: int
    p50: float
    p95: float
    p99: float


class LatencyReport(_Out):
    """Suggestion latency overall and per time bucket, oldest first."""

    bucket: TimeBucket
    overall: LatencyPoint
    points: list[LatencyPoint]


class GapGroup(_Out):
    """Customer questions the KB failed that mean roughly the same thing."""

    count: int
    representative: str
    examples: list[str]
    languages: list[str]
    clients: list[str]
    reasons: dict[str, int] = Field(description="Turns per reason: kb_gap, rejected.")
    last_seen: datetime
    turns: list[tuple[str, str]] = Field(description="(conversation_id, turn_id) of each member.")


class EditedSuggestion(_Out):
    """An edited suggestion beside the text the agent sent (``similarity`` in [0, 1])."""

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


class Conversation(_Out):
    """A logged conversation; ``language`` is its latest customer turn's detected language."""

    conversation_id: str
    agent_id: str
    channel: str
    client: str | None
    language: str | None
    started_at: datetime
    ended_at: datetime | None


class ConversationSummary(_Out):
    """A conversation with the size of its log, its gap turns and its escalations."""

    conversation: Conversation
    turns: int
    suggestions: int
    feedback: int
    kb_gaps: int = Field(description="Its turns that the KB-gap table lists (gap or rejected).")
    escalations: int


class ExportRow(_Out):
    """One suggestion of the exported logs with its turn, verdict and evidence (JSON export).

    The CSV export has the same columns; ``evidence_doc_ids`` is ``;``-separated there.
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
    evidence_doc_ids: list[str]
    action: FeedbackAction | None = Field(description="None: the agent gave no verdict.")
    final_text: str | None
    similarity: float | None
    edit_distance: int | None
    reason: str | None
    feedback_at: datetime | None


class ConversationDetail(_Out):
    """One conversation's turns, suggestions and feedback, oldest first."""

    conversation: Conversation
    turns: list[TurnRowOut]
    suggestions: list[SuggestionRowOut]
    feedback: list[FeedbackRowOut]
    escalations: int
