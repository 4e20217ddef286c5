"""Service test helpers: the real embedder, recording what it is handed; a fresh PostgreSQL."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence

import psycopg
import pytest

from copilot.models.embedding import Embedder, Vectors
from copilot.storage.db import upgrade

POSTGRES_ADMIN = os.environ.get(
    "COPILOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class Recording:
    """The real embedder, noting the texts of each call; call ``i`` first waits for ``gates[i]``."""

    def __init__(self, inner: Embedder, gates: Sequence[threading.Event] = ()) -> None:
        self.name, self.dim = inner.name, inner.dim
        self.calls: list[list[str]] = []
        self._inner = inner
        self._gates = list(gates)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        if len(self.calls) <= len(self._gates):
            assert self._gates[len(self.calls) - 1].wait(30)
        return self._inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._inner.embed_passages(texts)

    def query_pieces(self, text: str) -> list[str]:
        return self._inner.query_pieces(text)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database at the newest schema (async URL), dropped after the test.

    A database of its own, not a schema: change notices span a whole database.
    """
    name = f"copilot_sync_{uuid.uuid4().hex[:8]}"
    admin_url = _libpq(POSTGRES_ADMIN)
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN.split('@')[-1]}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
