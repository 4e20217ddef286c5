"""Suggestion origins hold an agent id and a suggestion id: widen the column to 512 characters.

A team-memory origin reads "team memory: <agent id>, suggestion <32 hex>"; with an agent id of the
accepted length (128) it overflowed varchar(128) on PostgreSQL and the whole suggestion batch was
dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.alter_column("origin", type_=sa.String(512), existing_type=sa.String(128))


def downgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.alter_column("origin", type_=sa.String(128), existing_type=sa.String(512))
