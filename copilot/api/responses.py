"""REST response bodies: what each operation of the OpenAPI schema returns, errors included."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from copilot.api.schemas import EvidenceOut
from copilot.domain import FeedbackAction, Role, Speaker, SuggestionKind


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


class ValidationIssueOut(BaseModel):
    """One reason a request was refused as invalid (FastAPI's issue without the sent value)."""

    type: str = Field(description="Pydantic's error type, e.g. ``missing`` or ``string_too_long``.")
    loc: list[str | int] = Field(description="Where: ``body``, ``query``, ``path``… then names.")
    msg: str


class ErrorOut(BaseModel):
    """Every REST error body, whatever refused the request (the WebSocket sends the same fields).

    Programs branch on ``code``, people read ``message``; ``detail`` is set for ``422`` only.
    """

    type: Literal["error"] = "error"
    code: str = Field(
        description="Stable: e.g. ``invalid_request``, ``unauthenticated``, ``forbidden``, "
        "``not_found``, ``starting``, ``storage_unavailable``."
    )
    message: str
    detail: list[ValidationIssueOut] | None = Field(
        default=None, description="What was invalid (``422 invalid_request`` only)."
    )


class HealthOut(BaseModel):
    """Body of ``GET /healthz``: the process answers (``failed``: its background start failed)."""

    status: Literal["ok", "failed"] = "ok"


class ReadyOut(BaseModel):
    """Body of ``GET /readyz``: ``200`` once ready, ``503`` while starting or unavailable."""

    status: Literal["starting", "ready", "unavailable", "failed"]
    stage: str | None = Field(
        default=None, description="Starting: what is loading (e.g. ``ingesting demo KB``)."
    )
    done: int | None = Field(default=None, description="Starting: items of the stage done.")
    total: int | None = Field(default=None, description="Starting: items of the stage in all.")
    error: str | None = Field(default=None, description="Failed: the error that stopped the start.")
    kb: Literal["ok", "empty"] | None = Field(
        default=None, description="``empty``: ready, but the KB has no documents to suggest from."
    )
    database: Literal["ok", "unavailable"] | None = None
    redis: Literal["ok", "unavailable"] | None = Field(
        default=None, description="Shared conversation state, when ``COPILOT_REDIS_URL`` is set."
    )
    kb_passages: int | None = None
    conversations: int | None = None
    write_backlog: int | None = None


class TurnRowOut(BaseModel):
    """A logged turn (its redacted text) and what retrieval made of it."""

    model_config = ConfigDict(from_attributes=True)
    conversation_id: str
    turn_id: str
    speaker: Speaker
    text: str
    created_at: datetime
    language: str | None
    retrieval_confidence: float | None = Field(description="In [0, 1]; null until handled.")
    kb_gap: bool


class SuggestionRowOut(BaseModel):
    """A logged suggestion; ``rank`` 0 was shown first, ``latency_ms`` is its turn's time."""

    model_config = ConfigDict(from_attributes=True)
    suggestion_id: str
    conversation_id: str
    turn_id: str
    rank: int
    kind: SuggestionKind
    text: str
    confidence: float
    language: str
    evidence: list[EvidenceOut]
    latency_ms: float
    created_at: datetime
    origin: str | None


class FeedbackRowOut(BaseModel):
    """Logged feedback: ``edit_distance`` in characters, ``similarity`` in [0, 1]."""

    model_config = ConfigDict(from_attributes=True)
    suggestion_id: str
    conversation_id: str
    agent_id: str
    action: FeedbackAction
    final_text: str
    created_at: datetime
    reason: str | None
    edit_distance: int
    similarity: float


class ConversationLogOut(BaseModel):
    """Body of ``GET /v1/conversations/{id}``: its turns, suggestions and feedback, oldest first."""

    conversation_id: str
    turns: list[TurnRowOut]
    suggestions: list[SuggestionRowOut]
    feedback: list[FeedbackRowOut]


class MeOut(BaseModel):
    """Body of ``GET /v1/me``: who the presented key belongs to."""

    role: Role
    agent_id: str | None
    name: str | None
    open_access: bool


class ProtocolSchemaOut(BaseModel):
    """Body of ``GET /v1/protocol/schema``: JSON Schemas of the WebSocket messages."""

    client_to_server: dict[str, Any]
    server_to_client: dict[str, Any]
    audio_client_to_server: dict[str, Any]
