"""The real app on the real models, over SQLite or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.conftest import MANIFEST
from tests.redis_server import REDIS_URL, fresh_prefix

POSTGRES_ADMIN = os.environ.get(
    "COPILOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A throwaway PostgreSQL database for the service tests, dropped at the end."""
    name = f"copilot_e2e_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(_libpq(POSTGRES_ADMIN), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN.split('@')[-1]}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(_libpq(POSTGRES_ADMIN), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The log database: a SQLite file, or the throwaway PostgreSQL database (tables emptied)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"
    url: str = request.getfixturevalue("postgres_database")
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        ).fetchall()
        if tables:
            names = ", ".join(f'"{t[0]}"' for t in tables)
            conn.execute(f"TRUNCATE {names} CASCADE")
    return url


def _conversation_state() -> dict[str, Any]:
    """With COPILOT_TEST_STATE=redis the services of these tests keep conversations in the test
    Redis (a prefix per test; keys expire after ``session_idle_s``): the API suite then proves the
    Redis adapter behaves as the in-process one."""
    if os.environ.get("COPILOT_TEST_STATE") != "redis":
        return {}
    return {"redis_url": REDIS_URL, "redis_prefix": fresh_prefix()}


@pytest.fixture
def service_settings(tmp_path: Path, kb_sources: Path, database_url: str) -> Settings:
    """Settings for a service on the tiny test KB."""
    return Settings(
        data_dir=tmp_path / "data",
        models_manifest=MANIFEST,
        kb_source_dir=kb_sources,
        ingest_demo_on_start=True,
        database_url=database_url,
        max_frame_bytes=4096,
        open_access=True,
        _env_file=None,
        **_conversation_state(),
    )


@pytest.fixture
def client(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> Iterator[TestClient]:
    """The app with its lifespan running (models shared from the session fixtures)."""
    with TestClient(create_app(service_settings, embedder=e5, reranker=use_reranker)) as c:
        yield c


@pytest.fixture
def roomy_client(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> Iterator[TestClient]:
    """The app with the default 64 KiB frame limit: room for frames nested or numbered to excess."""
    settings = service_settings.model_copy(update={"max_frame_bytes": 65536})
    with TestClient(create_app(settings, embedder=e5, reranker=use_reranker)) as c:
        yield c
