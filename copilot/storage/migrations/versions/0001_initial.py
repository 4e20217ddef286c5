"""Initial log tables: conversations, turns, suggestions and feedback, with their filter indexes.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(128)
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the four log tables and their indexes."""
    op.create_table(
        "conversations",
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("started_at", _when(), nullable=False),
        sa.Column("ended_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_conversations"),
    )
    for column in ("agent_id", "client", "language", "started_at"):
        op.create_index(f"ix_conversations_{column}", "conversations", [column])

    op.create_table(
        "turns",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("turn_id", _ID, nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("language", sa.String(16), nullable=True),
        sa.Column("retrieval_confidence", sa.Float(), nullable=True),
        sa.Column("kb_gap", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_turns"),
        sa.UniqueConstraint("conversation_id", "turn_id", name="uq_turns_conversation_id_turn_id"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name="fk_turns_conversation_id_conversations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_turns_created_at", "turns", ["created_at"])
    op.create_index("ix_turns_language", "turns", ["language"])
    op.create_index(
        "ix_turns_conversation_id_speaker_created_at",
        "turns",
        ["conversation_id", "speaker", "created_at"],
    )
    op.create_index("ix_turns_kb_gap_created_at", "turns", ["kb_gap", "created_at"])

    op.create_table(
        "suggestions",
        sa.Column("suggestion_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("turn_id", _ID, nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("origin", _ID, nullable=True),
        sa.PrimaryKeyConstraint("suggestion_id", name="pk_suggestions"),
        sa.ForeignKeyConstraint(
            ["conversation_id", "turn_id"],
            ["turns.conversation_id", "turns.turn_id"],
            name="fk_suggestions_conversation_id_turns",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_suggestions_created_at", "suggestions", ["created_at"])
    op.create_index("ix_suggestions_language", "suggestions", ["language"])
    op.create_index(
        "ix_suggestions_conversation_id_turn_id_rank",
        "suggestions",
        ["conversation_id", "turn_id", "rank"],
    )

    op.create_table(
        "feedback",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("suggestion_id", _ID, nullable=False),
        sa.Column("conversation_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("final_text", sa.Text(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("edit_distance", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("similarity", sa.Float(), server_default=sa.text("1.0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.UniqueConstraint("suggestion_id", name="uq_feedback_suggestion_id"),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["suggestions.suggestion_id"],
            name="fk_feedback_suggestion_id_suggestions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name="fk_feedback_conversation_id_conversations",
            ondelete="CASCADE",
        ),
    )
    for column in ("conversation_id", "agent_id", "action", "created_at"):
        op.create_index(f"ix_feedback_{column}", "feedback", [column])


def downgrade() -> None:
    """Drop the log tables (their indexes go with them)."""
    for table in ("feedback", "suggestions", "turns", "conversations"):
        op.drop_table(table)
