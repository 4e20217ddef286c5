"""Wire messages: the WebSocket protocol (a union discriminated on ``type``) and REST bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from copilot.domain import Evidence, FeedbackAction, Speaker, Suggestion, SuggestionKind

Language = Literal["es", "en", "pt"]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str | None = Field(default=None, max_length=128, description="Echoed in ack and error.")


class StartMessage(_Message):
    """Client → server: open or resume the conversation."""

    type: Literal["start"]
    agent_id: Id
    channel: str = Field(default="chat", max_length=32)
    client: str | None = Field(default=None, max_length=100)
    language: Language | None = None


class TurnMessage(_Message):
    """Client → server: one turn of the conversation."""

    type: Literal["turn"]
    turn_id: Id
    speaker: Speaker
    text: str = Field(min_length=1)
    timestamp: datetime | None = None


class FeedbackMessage(_Message):
    """Client → server: what the agent did with a suggestion."""

    type: Literal["feedback"]
    suggestion_id: Id
    action: FeedbackAction
    final_text: str = ""
    reason: str | None = Field(default=None, max_length=500)


class EndMessage(_Message):
    """Client → server: the conversation is over."""

    type: Literal["end"]


ClientMessage = Annotated[
    StartMessage | TurnMessage | FeedbackMessage | EndMessage, Field(discriminator="type")
]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class EvidenceOut(BaseModel):
    """A KB passage behind a suggestion."""

    doc_id: str
    title: str
    section: str
    snippet: str
    score: float
    source: str

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
        )


class SuggestionOut(BaseModel):
    """One suggested reply."""

    id: str
    text: str
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
    SuggestionsMessage | TurnLoggedMessage | AckMessage | ErrorMessage,
    Field(discriminator="type"),
]


class TurnIn(BaseModel):
    """REST body of ``POST /v1/conversations/{id}/turns``; starts the conversation if needed."""

    model_config = ConfigDict(extra="forbid")
    turn_id: Id
    speaker: Speaker
    text: str = Field(min_length=1)
    agent_id: Id | None = Field(
        default=None, description="Defaults to the key's agent, else 'webhook'."
    )
    channel: str = Field(default="chat", max_length=32)
    client: str | None = Field(default=None, max_length=100)
    language: Language | None = None
    timestamp: datetime | None = None


class FeedbackIn(BaseModel):
    """REST body of ``POST /v1/conversations/{id}/feedback``."""

    model_config = ConfigDict(extra="forbid")
    suggestion_id: Id
    action: FeedbackAction
    final_text: str = ""
    reason: str | None = Field(default=None, max_length=500)


class KbPassageOut(BaseModel):
    """A passage found by a manual KB search (``GET /v1/kb/search``)."""

    doc_id: str
    title: str
    section: str
    snippet: str = Field(description="The first 400 characters of the passage.")
    score: float = Field(description="Fused retrieval score; higher is better, can exceed 1.")
    source: str = Field(description="The ingested file.")
    language: str | None
    client: str | None
    url: str = Field(description="The document's passages: ``GET /v1/kb/documents/{doc_id}``.")


class KbSearchOut(BaseModel):
    """Result of ``GET /v1/kb/search``: best passage first, one per document."""

    query: str
    results: list[KbPassageOut]


class KbDocumentPassage(BaseModel):
    """One passage of a document, in reading order."""

    ordinal: int
    section: str
    text: str


class KbDocumentOut(BaseModel):
    """A KB document with its passages (``GET /v1/kb/documents/{doc_id}``)."""

    doc_id: str
    title: str
    source: str
    language: str | None
    client: str | None
    tags: list[str]
    text: str = Field(description="The document as ingested; lines starting with # are headings.")
    passages: list[KbDocumentPassage]
