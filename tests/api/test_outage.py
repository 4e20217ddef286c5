"""A PostgreSQL outage behind a TCP proxy: while it lasts writes and reads answer 503 with
Retry-After and ``/readyz`` says so; nothing is acknowledged that is then lost, and no session
exists without its conversation row once the database is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.settings import Settings
from tests.api.tcp_proxy import TcpProxy, tcp_proxy
from tests.conftest import MANIFEST

pytestmark = pytest.mark.postgres

QUESTION = "me robaron la tarjeta, ¿cómo la bloqueo?"


@pytest.fixture
def proxied(
    tmp_path: Path, kb_sources: Path, postgres_database: str, e5: Embedder
) -> Iterator[tuple[TestClient, TcpProxy]]:
    url = make_url(postgres_database)
    with tcp_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        settings = Settings(
            data_dir=tmp_path / "data",
            models_manifest=MANIFEST,
            kb_source_dir=kb_sources,
            ingest_demo_on_start=True,
            database_url=url.set(host="127.0.0.1", port=proxy.port).render_as_string(False),
            open_access=True,
            write_timeout_s=1.0,
            use_reranker=False,
            _env_file=None,
        )
        with TestClient(create_app(settings, embedder=e5)) as client:
            yield client, proxy


def _turn(client: TestClient, conversation: str, turn_id: str) -> Any:
    return client.post(
        f"/v1/conversations/{conversation}/turns",
        json={"turn_id": turn_id, "speaker": "customer", "text": QUESTION, "agent_id": "ana"},
    )


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "storage_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_outage_answers_503_and_loses_nothing_acknowledged(
    proxied: tuple[TestClient, TcpProxy],
) -> None:
    client, proxy = proxied
    first = _turn(client, "live", "t1")
    assert first.status_code == 200
    suggestion = first.json()["suggestions"][0]["id"]
    assert client.get("/readyz").json()["database"] == "ok"

    proxy.cut()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unavailable"
    _unavailable(_turn(client, "born-in-outage", "t1"))
    _unavailable(_turn(client, "live", "t2"))
    _unavailable(
        client.post(
            "/v1/conversations/live/feedback",
            json={"suggestion_id": suggestion, "action": "accepted"},
        )
    )
    _unavailable(client.get("/v1/conversations/live"))

    proxy.restore()
    deadline = time.monotonic() + 15
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the database did not come back"
        time.sleep(0.2)
    # The client resends what was refused: each is now accepted, none as a duplicate.
    assert _turn(client, "born-in-outage", "t1").json()["type"] == "suggestions"
    assert _turn(client, "live", "t2").json()["type"] == "suggestions"
    feedback = client.post(
        "/v1/conversations/live/feedback", json={"suggestion_id": suggestion, "action": "accepted"}
    )
    assert feedback.json()["detail"] == "recorded"
    live = client.get("/v1/conversations/live").json()
    assert [t["turn_id"] for t in live["turns"]] == ["t1", "t2"]
    assert [f["suggestion_id"] for f in live["feedback"]] == [suggestion]
    born = client.get("/v1/conversations/born-in-outage").json()
    assert [t["turn_id"] for t in born["turns"]] == ["t1"]
