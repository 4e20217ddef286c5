"""Replicas on one PostgreSQL database: a reply an agent edits or accepts through one replica is
offered as team memory by the other within seconds (in-process apps, then two `copilot serve`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.conftest import MANIFEST
from tests.processes import free_port, interrupt

REPO = Path(__file__).resolve().parents[2]
QUESTION = "me robaron la tarjeta oro, ¿qué hago?"
BETTER = "Lamento lo ocurrido. Ya bloqueé su Tarjeta Oro; la nueva llega en cinco días hábiles."

Post = Callable[[str, dict[str, Any]], Any]


def _turn(post: Post, conversation: str, turn_id: str, agent: str) -> Any:
    body = {"turn_id": turn_id, "speaker": "customer", "text": QUESTION, "client": "bank"}
    return post(f"/v1/conversations/{conversation}/turns", {**body, "agent_id": agent})


def _edit_on_a_then_ask_on_b(post_a: Post, post_b: Post, timeout_s: float) -> list[Any]:
    """Agent 1 edits a suggestion through A; agent 2's customer asks the same through B until
    B offers the edit as team memory (or the time is up). Returns B's memory suggestions."""
    run = uuid.uuid4().hex[:8]  # the database outlives this test
    first = _turn(post_a, f"mem-a-{run}", "t1", "agent-1")
    feedback = {"suggestion_id": first["suggestions"][0]["id"], "action": "edited"}
    recorded = post_a(f"/v1/conversations/mem-a-{run}/feedback", {**feedback, "final_text": BETTER})
    assert recorded["detail"] == "recorded"
    deadline = time.monotonic() + timeout_s
    for n in range(1000):
        reply = _turn(post_b, f"mem-b-{run}", f"t{n}", "agent-2")
        memory = [s for s in reply["suggestions"] if s["kind"] == "memory"]
        if memory or time.monotonic() > deadline:
            return memory
        time.sleep(0.2)
    return []


def _settings(tmp_path: Path, kb_sources: Path, url: str, name: str) -> Settings:
    return Settings(
        data_dir=tmp_path / name,
        models_manifest=MANIFEST,
        kb_source_dir=kb_sources,
        ingest_demo_on_start=True,
        database_url=url,
        open_access=True,
        _env_file=None,
    )


def _client_post(client: TestClient) -> Post:
    def post(path: str, body: dict[str, Any]) -> Any:
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    return post


@pytest.mark.postgres
def test_an_edit_through_one_app_is_team_memory_in_the_other(
    postgres_database: str,
    tmp_path: Path,
    kb_sources: Path,
    e5: Embedder,
    use_reranker: Reranker,
) -> None:
    a = _settings(tmp_path, kb_sources, postgres_database, "a")
    b = _settings(tmp_path, kb_sources, postgres_database, "b")
    with (
        TestClient(create_app(a, embedder=e5, reranker=use_reranker)) as client_a,
        TestClient(create_app(b, embedder=e5, reranker=use_reranker)) as client_b,
    ):
        memory = _edit_on_a_then_ask_on_b(_client_post(client_a), _client_post(client_b), 5.0)
        assert len(memory) == 1, "B never offered A's edit"
        assert memory[0]["text"] == BETTER
        assert "agent-1" in memory[0]["origin"]
        # Learned by A itself and announced to it too: still one item.
        again = _turn(_client_post(client_a), f"mem-a2-{uuid.uuid4().hex[:8]}", "t1", "agent-3")
        assert [s["text"] for s in again["suggestions"] if s["kind"] == "memory"] == [BETTER]


def _serve(
    tmp_path: Path, kb_sources: Path, url: str, name: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "COPILOT_MODELS_MANIFEST": str(MANIFEST),
        "COPILOT_KB_SOURCE_DIR": str(kb_sources),
        "COPILOT_ASR_ENABLED": "false",
        "COPILOT_DATABASE_URL": url,
    }
    command = [sys.executable, "-m", "copilot", "--data-dir", str(tmp_path / name)]
    command += ["serve", "--open-access", "--demo", "--port", str(port)]
    with (tmp_path / f"{name}.log").open("wb") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(log.read_text(errors="replace"))


def _http_post(base: str) -> Post:
    def post(path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{base}{path}", json=body, timeout=30.0)
        assert response.status_code == 200, response.text
        return response.json()

    return post


@pytest.mark.slow
@pytest.mark.postgres
def test_an_edit_on_one_copilot_serve_is_team_memory_on_another(
    postgres_database: str, tmp_path: Path, kb_sources: Path
) -> None:
    # One after the other: the first migrates the new database.
    a, base_a = _serve(tmp_path, kb_sources, postgres_database, "a")
    b: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(a, base_a, tmp_path / "a.log")
        b, base_b = _serve(tmp_path, kb_sources, postgres_database, "b")
        _wait_ready(b, base_b, tmp_path / "b.log")
        # Only a listening B hears the notice (else its catch-up on connecting reads the edit).
        deadline = time.monotonic() + 10
        while "memory_sync_listening" not in (tmp_path / "b.log").read_text(errors="replace"):
            assert time.monotonic() < deadline, "B never listened"
            time.sleep(0.1)
        memory = _edit_on_a_then_ask_on_b(_http_post(base_a), _http_post(base_b), 5.0)
    finally:
        interrupt(a)
        if b is not None:
            interrupt(b)
    log_b = (tmp_path / "b.log").read_text(errors="replace")
    assert len(memory) == 1, log_b
    assert memory[0]["text"] == BETTER
    synced = [json.loads(line) for line in log_b.splitlines() if "memory_synced" in line]
    assert [(e["source"], e["added"]) for e in synced] == [("notice", 1)], log_b
    assert (a.returncode, b.returncode if b else None) == (0, 0), log_b
