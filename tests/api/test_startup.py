"""The first start: the port answers at once (``/readyz`` 503 with the stage, routes 503
``starting``, a starting page) while models load and the demo KB is ingested behind it; the demo
KB only on request, and an empty KB said so."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from copilot.api import startup
from copilot.api.app import create_app
from copilot.errors import StorageError
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from copilot.storage.db import upgrade
from tests.conftest import MANIFEST
from tests.processes import free_port, interrupt

REPO = Path(__file__).resolve().parents[2]
DEMO_DOC = "bank-es-bloqueo"  # a document of the test KB


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The start is the same on either database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"


def _until_ready(client: TestClient, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Every ``/readyz`` body until the first 200 (the last one)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        seen.append(response.json())
        if response.status_code == 200:
            return seen
        assert response.status_code == 503
        time.sleep(0.005)
    pytest.fail(f"not ready in {timeout_s} s: {seen[-1]}")


@pytest.fixture
def held_migration(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """The log database's migration waits for the test (an edge of the start) to let it go."""
    release = threading.Event()

    def held(url: str) -> None:
        release.wait(60)
        upgrade(url)

    monkeypatch.setattr("copilot.api.startup.upgrade", held)
    yield release
    release.set()


def test_a_background_start_answers_at_once_then_ingests_and_is_ready(
    service_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    held_migration: threading.Event,
) -> None:
    settings = service_settings.model_copy(update={"background_start": True})
    with TestClient(create_app(settings, embedder=e5, reranker=use_reranker)) as client:
        assert client.get("/healthz").status_code == 200
        starting = client.get("/readyz")
        assert starting.status_code == 503
        assert starting.json() == {
            "status": "starting",
            "stage": "opening the log database",
            "done": 0,
            "total": 0,
        }
        refused = client.get("/v1/kb/search", params={"q": "bloqueo de tarjeta"})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "5"
        assert refused.json() == {
            "type": "error",
            "code": "starting",
            "message": "the service is not ready yet: opening the log database",
        }
        page = client.get("/demo")
        assert page.status_code == 200
        assert 'data-testid="starting"' in page.text
        assert "/static/demo/starting.js" in page.text
        assert 'data-testid="starting"' in client.get("/panel").text
        assert client.get("/static/demo/starting.js").status_code == 200

        held_migration.set()
        seen = _until_ready(client)
        ingesting = [b for b in seen if b.get("stage") == startup.DEMO_STAGE and b["total"]]
        assert ingesting, seen  # the ingest was watched from outside, with its counts
        assert all(0 <= b["done"] <= b["total"] for b in ingesting)
        ready = seen[-1]
        assert (ready["status"], ready["kb"], ready["database"]) == ("ready", "ok", "ok")
        assert ready["kb_passages"] > 0
        assert 'data-testid="starting"' not in client.get("/demo").text
        found = client.get("/v1/kb/search", params={"q": "bloqueo de tarjeta"})
        assert found.status_code == 200
        assert found.json()["results"]


def test_a_failed_background_start_is_said_by_readyz_and_healthz(
    service_settings: Settings, e5: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(url: str) -> None:
        raise StorageError("log database db at 127.0.0.1 cannot be reached")

    monkeypatch.setattr("copilot.api.startup.upgrade", unreachable)
    settings = service_settings.model_copy(update={"background_start": True})
    with TestClient(create_app(settings, embedder=e5)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").json()["status"] == "starting":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        failed = client.get("/readyz")
        assert failed.status_code == 503
        assert failed.json() == {
            "status": "failed",
            "stage": "opening the log database",
            "error": "StorageError",
        }
        assert client.get("/healthz").status_code == 503
        refused = client.get("/v1/me")
        assert refused.status_code == 200  # needs no KB: answered whatever the start
        turn = client.post(
            "/v1/conversations/c1/turns",
            json={"turn_id": "t1", "speaker": "customer", "text": "hola"},
        )
        assert turn.status_code == 503
        assert (
            turn.json()["message"] == "the service is not ready yet: the start failed: StorageError"
        )


def test_an_empty_kb_starts_ready_without_the_demo_documents(
    service_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = service_settings.model_copy(update={"ingest_demo_on_start": False})
    caplog.set_level(logging.WARNING, logger="copilot.api.startup")
    with TestClient(create_app(settings, embedder=e5, reranker=use_reranker)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert (ready.json()["kb"], ready.json()["kb_passages"]) == ("empty", 0)
        assert client.get(f"/v1/kb/documents/{DEMO_DOC}").status_code == 404
        search = client.get("/v1/kb/search", params={"q": "bloqueo de tarjeta"})
        assert search.json()["results"] == []
    assert any(r.getMessage().startswith("kb_empty") for r in caplog.records)


def test_the_demo_kb_is_off_unless_asked_for() -> None:
    assert Settings(_env_file=None).ingest_demo_on_start is False


def test_copilot_serve_opens_its_port_before_the_demo_kb_is_in(
    tmp_path: Path, kb_sources: Path
) -> None:
    """The real entry point on a fresh data folder: ``/readyz`` answers 503 first, then 200."""
    port = free_port()
    env = {
        **os.environ,
        "COPILOT_MODELS_MANIFEST": str(MANIFEST),
        "COPILOT_KB_SOURCE_DIR": str(kb_sources),
        "COPILOT_ASR_ENABLED": "false",
    }
    command = [sys.executable, "-m", "copilot", "--data-dir", str(tmp_path / "data")]
    command += ["serve", "--open-access", "--demo", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/readyz"
    statuses: list[tuple[int, str]] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = httpx.get(url, timeout=2.0)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            statuses.append((response.status_code, response.json()["status"]))
            if response.status_code == 200:
                assert response.json()["kb"] == "ok"
                break
            time.sleep(0.05)
    finally:
        interrupt(proc)
    text = log.read_text(errors="replace")
    assert statuses, text
    assert statuses[0] == (503, "starting"), text
    assert statuses[-1] == (200, "ready"), text
    assert "demo_kb_ingested" in text
