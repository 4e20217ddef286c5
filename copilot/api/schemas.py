"""Wire messages: the WebSocket protocol (a union discriminated on ``type``) and REST bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from copilot.domain import Evidence, FeedbackAction, Speaker, Suggestion, SuggestionKind

Language = Literal["es", "en", "pt"]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL: refused here, a clear error instead of a dropped row.
    if "\x00" in text:
        raise ValueError("text must not contain NUL (\\u0000) characters")
    return text


Text = Annotated[str, AfterValidator(_no_nul)]
"""Free text from a client: any characters a database can store."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = Field(default=None, max_length=128, description="Echoed in ack and error.")


class StartMessage(_Message):
    """Client → server: open or resume the conversation."""

    type: Literal["start"]
    agent_id: Id
    channel: Text = Field(default="chat", max_length=32)
    client: Text | None = Field(default=None, max_length=100)
    language: Language | None = None


class TurnMessage(_Message):
    """Client → server: one turn of the conversation."""

    type: Literal["turn"]
    turn_id: Id
    speaker: Speaker
    text: Text = Field(min_length=1)
    timestamp: datetime | None = None


class FeedbackMessage(_Message):
    """Client → server: what the agent did with a suggestion."""

    type: Literal["feedback"]
    suggestion_id: Id
    action: FeedbackAction
    final_text: Text = ""
    reason: Text | None = Field(default=None, max_length=500)


class EndMessage(_Message):
    """Client → server: the conversation is over."""

    type: Literal["end"]


ClientMessage = Annotated[
    StartMessage | TurnMessage | FeedbackMessage | EndMessage, Field(discriminator="type")
]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class StartAudioMessage(_Message):
    """Audio client → server: opens a live call's audio stream (first frame of the socket).

    The conversation is started (or resumed) as by ``start``. ``channels`` names the speaker of
    each interleaved channel: one leg per stream, or both legs in one stereo stream.
    """

    type: Literal["start_audio"]
    agent_id: Id
    channel: Text = Field(default="voice", max_length=32)
    client: Text | None = Field(default=None, max_length=100)
    language: Language | None = None
    sample_rate: Literal[8000, 16000] = 16000
    encoding: Literal["pcm16", "mulaw"] = "pcm16"
    channels: list[Speaker] = Field(
        default_factory=lambda: [Speaker.CUSTOMER], min_length=1, max_length=2
    )


class EndAudioMessage(_Message):
    """Audio client → server: the stream is over; pending utterances get their final text."""

    type: Literal["end_audio"]


AudioClientMessage = Annotated[StartAudioMessage | EndAudioMessage, Field(discriminator="type")]
AUDIO_CLIENT_MESSAGE: TypeAdapter[AudioClientMessage] = TypeAdapter(AudioClientMessage)


class TranscriptSegmentOut(BaseModel):
    """One recognised segment of a recording; seconds from its start."""

    speaker: Literal["customer", "agent", "unknown"]
    start_s: float
    end_s: float
    text: str


class TranscriptOut(BaseModel):
    """Body of ``POST /v1/transcribe``: the redacted transcript of a recording."""

    language: str
    duration_s: float
    segments: list[TranscriptSegmentOut]


class EvidenceOut(BaseModel):
    """A KB passage behind a suggestion."""

    model_config = ConfigDict(from_attributes=True)

    doc_id: str
    title: str
    section: str
    snippet: str
    score: float
    source: str
    language: str | None = Field(
        default=None, description="The passage's language; null when the KB does not know it."
    )

    @classmethod
    def of(cls, e: Evidence) -> EvidenceOut:
        """From the domain value."""
        return cls(
            doc_id=e.doc_id,
            title=e.title,
            section=e.section,
            snippet=e.snippet,
            score=e.score,
            source=e.source,
            language=e.language,
        )


class SuggestionOut(BaseModel):
    """One suggested reply."""

    id: str
    text: str = Field(description="The reply to send; empty for a `reference` (evidence only).")
    kind: SuggestionKind
    confidence: float
    language: str
    evidence: list[EvidenceOut]
    origin: str | None = None

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        """From the domain value."""
        return cls(
            id=s.suggestion_id,
            text=s.text,
            kind=s.kind,
            confidence=s.confidence,
            language=s.language,
            evidence=[EvidenceOut.of(e) for e in s.evidence],
            origin=s.origin,
        )


class SuggestionsMessage(BaseModel):
    """Server → client: suggestions for a customer turn."""

    type: Literal["suggestions"] = "suggestions"
    conversation_id: str
    turn_id: str
    language: str
    kb_gap: bool
    latency_ms: float
    suggestions: list[SuggestionOut]


class TurnLoggedMessage(BaseModel):
    """Server → client: a turn joined the conversation (sent by another client, REST or voice).

    The text is the redacted form that was logged. The connection that sent a turn does not get
    it back.
    """

    type: Literal["turn"] = "turn"
    conversation_id: str
    turn_id: str
    speaker: Speaker
    text: str
    at: datetime


class TranscriptMessage(BaseModel):
    """Server → client: live call speech as text (redacted), interim or final.

    Interim frames of an ``utterance_id`` replace each other and only grow; the final one replaces
    them all (its text may be empty for noise). Times are seconds since the leg's audio began.
    """

    type: Literal["transcript"] = "transcript"
    conversation_id: str
    utterance_id: str
    speaker: Speaker
    text: str
    final: bool
    start_s: float
    end_s: float


class AckMessage(BaseModel):
    """Server → client: a message was accepted (``detail`` says how, e.g. ``duplicate``)."""

    type: Literal["ack"] = "ack"
    ref: str | None = None
    detail: str = "ok"


class ErrorMessage(BaseModel):
    """Server → client: a message was refused; the connection stays open."""

    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | None = None


ServerMessage = Annotated[
    SuggestionsMessage | TurnLoggedMessage | TranscriptMessage | AckMessage | ErrorMessage,
    Field(discriminator="type"),
]


class TurnIn(BaseModel):
    """REST body of ``POST /v1/conversations/{id}/turns``; starts the conversation if needed."""

    model_config = ConfigDict(extra="forbid")
    turn_id: Id
    speaker: Speaker
    text: Text = Field(min_length=1)
    agent_id: Id | None = Field(
        default=None, description="Defaults to the key's agent, else 'webhook'."
    )
    channel: Text = Field(default="chat", max_length=32)
    client: Text | None = Field(default=None, max_length=100)
    language: Language | None = None
    timestamp: datetime | None = None


class FeedbackIn(BaseModel):
    """REST body of ``POST /v1/conversations/{id}/feedback``."""

    model_config = ConfigDict(extra="forbid")
    suggestion_id: Id
    action: FeedbackAction
    final_text: Text = ""
    reason: Text | None = Field(default=None, max_length=500)
