"""Alembic environment of the log tables: migrates the connection that `db.upgrade` hands over.

``db.upgrade`` puts an open synchronous connection in ``config.attributes["connection"]``; without
one, the ``sqlalchemy.url`` option is used (for the ``alembic`` command line, or offline SQL).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from copilot.storage.tables import Base


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them; batch mode does that for later migrations.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if isinstance(connection, Connection):
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    if url is None:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url option")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run_on(conn)
    finally:
        engine.dispose()


_main()
