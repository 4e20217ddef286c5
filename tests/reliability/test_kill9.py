"""kill -9 under load: every turn and feedback the service acknowledged is in the log after the
crash (the log tables held locked just before it, as a busy database would), the log passes its
integrity check, and a resent acknowledged turn logs nothing new."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.reliability.crash_load import REPO, Server, found, load_then_kill

pytestmark = pytest.mark.slow
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (the service's own SQLite file) or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    name = f"copilot_kill_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_nothing_acknowledged_is_lost_to_kill_9(tmp_path: Path, database_url: str | None) -> None:
    kb = shutil.copytree(REPO / "tests" / "data" / "kb", tmp_path / "kb")
    server = Server(tmp_path / "data", kb, database_url=database_url)
    try:
        server.wait_ready()
        acked = asyncio.run(load_then_kill(server, 20, 8.0, 0.3, "k", stall_s=2.0))
    finally:
        server.stop()
    assert len(acked.turns) >= 20, "the load never got going"
    logged = found(server.database_url)
    assert logged.integrity == "ok"
    assert acked.turns - logged.turns == set()
    assert acked.feedback - logged.feedback == set()

    again = Server(tmp_path / "data", kb, database_url=database_url)
    try:
        again.wait_ready()
        conversation, turn_id = max(acked.turns)
        resent = httpx.post(
            f"{again.url}/v1/conversations/{conversation}/turns",
            json={"turn_id": turn_id, "speaker": "customer", "text": "hola", "agent_id": "x"},
            timeout=30,
        )
    finally:
        again.stop()
    assert resent.status_code == 200
    # A duplicate: the resend is answered (with the turn's logged suggestions when it was the
    # latest customer turn) and nothing new is logged.
    answer = resent.json()
    assert answer.get("detail", "duplicate") == "duplicate"
    assert answer.get("turn_id", turn_id) == turn_id
    assert found(server.database_url).turns == logged.turns
