"""Conversation, turn, suggestion and feedback logs in SQLite or PostgreSQL (SQLAlchemy async).

Only ``service`` uses this package. Repositories take an ``AsyncSession`` and never commit: the
caller owns the transaction. The schema comes from the Alembic migrations run by `db.upgrade`.
"""
