"""ORM tables of the logs (conversations, turns, suggestions, feedback), read back as records.

The schema itself is created by the Alembic migrations in ``migrations/versions``; keep the two in
step (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from copilot.domain import Evidence, FeedbackAction, Speaker, SuggestionKind
from copilot.storage.records import ConversationRecord, FeedbackRecord, SuggestionRecord, TurnRecord

ID_LENGTH = 128
ORIGIN_LENGTH = 512
"""A suggestion's origin names an agent id (up to ID_LENGTH) and a suggestion id."""
"""Longest conversation, turn, suggestion or agent id the tables accept."""

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_SERIAL = BigInteger().with_variant(Integer(), "sqlite")
_JSON = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite returns naive ones).

    A naive datetime (a bound in a query string, say) is taken to be in UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.utcoffset() is None else value.astimezone(UTC)
        # SQLite has no zone type: its DATETIME text keeps the wall clock, so write UTC's.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the log tables; ``Base.metadata`` is the migrations' target."""

    # Named constraints, so the migration and the ORM agree on every name on both databases.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class ConversationRow(Base):
    """One conversation; agent and client filters of every log listing join through it."""

    __tablename__ = "conversations"
    conversation_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    client: Mapped[str | None] = mapped_column(String(100), index=True)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def to_record(self) -> ConversationRecord:
        """This row as the plain value the repositories hand out."""
        return ConversationRecord(
            conversation_id=self.conversation_id,
            agent_id=self.agent_id,
            channel=self.channel,
            client=self.client,
            language=self.language,
            started_at=self.started_at,
            ended_at=self.ended_at,
        )


class TurnRow(Base):
    """One turn; ``id`` keeps arrival order for turns logged in the same microsecond."""

    __tablename__ = "turns"
    __table_args__ = (
        UniqueConstraint("conversation_id", "turn_id"),
        Index(None, "conversation_id", "speaker", "created_at"),
        Index(None, "kb_gap", "created_at"),
    )
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.conversation_id", ondelete="CASCADE")
    )
    turn_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    speaker: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    retrieval_confidence: Mapped[float | None] = mapped_column(Float)
    kb_gap: Mapped[bool] = mapped_column(Boolean, server_default=false())

    def to_record(self) -> TurnRecord:
        """This row as the plain value the repositories hand out."""
        return TurnRecord(
            conversation_id=self.conversation_id,
            turn_id=self.turn_id,
            speaker=Speaker(self.speaker),
            text=self.text,
            created_at=self.created_at,
            language=self.language,
            retrieval_confidence=self.retrieval_confidence,
            kb_gap=self.kb_gap,
        )


class SuggestionRow(Base):
    """One suggestion shown for a turn; ``evidence`` is a JSON list of Evidence fields."""

    __tablename__ = "suggestions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["conversation_id", "turn_id"],
            ["turns.conversation_id", "turns.turn_id"],
            ondelete="CASCADE",
        ),
        Index(None, "conversation_id", "turn_id", "rank"),
    )
    suggestion_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    turn_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    rank: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    language: Mapped[str] = mapped_column(String(16), index=True)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(_JSON)
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    origin: Mapped[str | None] = mapped_column(String(ORIGIN_LENGTH))

    def to_record(self) -> SuggestionRecord:
        """This row as the plain value the repositories hand out."""
        return SuggestionRecord(
            suggestion_id=self.suggestion_id,
            conversation_id=self.conversation_id,
            turn_id=self.turn_id,
            rank=self.rank,
            kind=SuggestionKind(self.kind),
            text=self.text,
            confidence=self.confidence,
            language=self.language,
            evidence=tuple(Evidence(**item) for item in self.evidence),
            latency_ms=self.latency_ms,
            created_at=self.created_at,
            origin=self.origin,
        )


class FeedbackRow(Base):
    """The agent's one verdict on a suggestion (a second one for the same suggestion is ignored)."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(_SERIAL, primary_key=True, autoincrement=True)
    suggestion_id: Mapped[str] = mapped_column(
        ForeignKey("suggestions.suggestion_id", ondelete="CASCADE"), unique=True
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.conversation_id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    action: Mapped[str] = mapped_column(String(16), index=True)
    final_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    edit_distance: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    similarity: Mapped[float] = mapped_column(Float, server_default=sql_text("1.0"))

    def to_record(self) -> FeedbackRecord:
        """This row as the plain value the repositories hand out."""
        return FeedbackRecord(
            suggestion_id=self.suggestion_id,
            conversation_id=self.conversation_id,
            agent_id=self.agent_id,
            action=FeedbackAction(self.action),
            final_text=self.final_text,
            created_at=self.created_at,
            reason=self.reason,
            edit_distance=self.edit_distance,
            similarity=self.similarity,
        )
