"""Plain values exchanged between layers: documents, chunks, search hits, dialogue turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Speaker(StrEnum):
    """Who said a turn of a conversation."""

    CUSTOMER = "customer"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """One turn of a conversation, as the retriever sees it."""

    speaker: Speaker
    text: str


@dataclass(frozen=True, slots=True)
class Confidence:
    """How likely the first suggestion's evidence answers the turn, and whether to abstain."""

    value: float
    abstain: bool
    features: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Document:
    """A knowledge-base document parsed from a source file, before chunking.

    ``text`` is Markdown-like: lines starting with ``#`` mark the section headings.
    """

    doc_id: str
    title: str
    text: str
    source: str
    language: str | None = None
    client: str | None = None
    tags: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage cut from a document; ``section`` is the heading path, such as ``A > B``."""

    doc_id: str
    ordinal: int
    section: str
    text: str


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What the KB stores about a document, without its text."""

    doc_id: str
    title: str
    source: str
    language: str | None
    client: str | None
    tags: tuple[str, ...]
    entities: tuple[str, ...]
    version: int
    n_chunks: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrict a search to documents of a client, a language or any of some tags."""

    client: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the filters let every document through."""
        return self.client is None and self.language is None and not self.tags


NO_FILTERS = SearchFilters()
"""The shared, immutable "no restriction" value."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One retrieved passage with its document and score (higher is better)."""

    doc_id: str
    title: str
    section: str
    text: str
    score: float
    source: str
    chunk_id: int
    language: str | None = None
    client: str | None = None
    tags: tuple[str, ...] = ()
    dense: float = 0.0
    """Cosine of the dense query with the passage (0 when it was not a dense candidate)."""
    lexical: float = 0.0
    """Scaled BM25 score in [0, 1] (0 when it was not a lexical candidate)."""
    turn_best: float = 0.0
    """Best cosine of the last turn alone with any passage (the same on every hit of a search): a
    follow-up still finds its kind of fact on its own words, an off-topic turn that the dialogue
    context lifted towards the KB finds nothing."""
    turn: float = 0.0
    """Cosine of the last turn alone with this passage: ``dense`` for a single question; in a
    dialogue, how much of the match is the turn's own rather than the context's."""
    dialogue: bool = False
    """Whether the dense query mixed in dialogue context (a follow-up rather than a question on its
    own): the same cosine means less there, since the context lifts every passage about it."""


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A source file that was skipped, and why."""

    path: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What one ingest call did, per document and per file."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    n_chunks: int = 0

    @property
    def ingested_any(self) -> bool:
        """True when at least one document is now in the KB from this call."""
        return bool(self.added or self.updated or self.unchanged)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A path handed to ingestion, with defaults for metadata the file itself lacks."""

    path: Path
    client: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()


class SuggestionKind(StrEnum):
    """What kind of reply a suggestion is."""

    GROUNDED = "grounded"  # drafted from KB passages
    MEMORY = "memory"  # a reply the team accepted or wrote for a similar customer turn
    CLARIFY = "clarify"  # a question back, when retrieval confidence is low
    MOVE = "move"  # a short reply to a greeting, thanks, closing or "are you there?"
    ESCALATE = "escalate"  # a supervisor request or anger: the agent should escalate
    # Evidence for the agent only (empty text, nothing to send): the best passage could not become
    # a draft in the customer's language, e.g. it is in another language with no bundled translator.
    REFERENCE = "reference"


class Role(StrEnum):
    """Who may do what: each role can do everything the ones before it can."""

    AGENT = "agent"  # their own conversations: stream, turns, feedback, KB search
    SUPERVISOR = "supervisor"  # every conversation's logs, the console, reports and export
    ADMIN = "admin"  # everything, including integrations that post turns for any agent

    @property
    def rank(self) -> int:
        """Position in the order agent < supervisor < admin."""
        return list(Role).index(self)


class FeedbackAction(StrEnum):
    """What the agent did with a suggestion."""

    ACCEPTED = "accepted"
    EDITED = "edited"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Evidence:
    """The KB passage behind a suggestion; ``language`` is the passage's (None when unknown), so
    the agent sees when it differs from the customer's."""

    doc_id: str
    title: str
    section: str
    snippet: str
    score: float
    source: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A next-best response for one customer turn, with the evidence it rests on.

    ``confidence`` is in [0, 1]; ``origin`` says where a memory suggestion came from (the feedback
    it was learned from).
    """

    suggestion_id: str
    turn_id: str
    text: str
    kind: SuggestionKind
    confidence: float
    language: str
    evidence: tuple[Evidence, ...] = ()
    origin: str | None = None
