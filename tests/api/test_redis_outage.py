"""A Redis outage behind a TCP proxy, two apps on it as replicas: while it lasts turns answer 503
and ``/readyz`` says ``redis: unavailable``; once it is back the resent turn is accepted and a
panel on the other replica hears turns again (its event channel resubscribed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.settings import Settings
from tests.api.tcp_proxy import TcpProxy, tcp_proxy
from tests.conftest import MANIFEST
from tests.redis_server import REDIS_URL, client_or_skip, drop_prefix, fresh_prefix

QUESTION = "me robaron la tarjeta, ¿cómo la bloqueo?"


async def _reachable_or_skip() -> None:
    client = await client_or_skip()
    await client.aclose()


async def _drop(prefix: str) -> None:
    client = await client_or_skip()
    await drop_prefix(client, prefix)
    await client.aclose()


@pytest.fixture
def replicas(
    tmp_path: Path, kb_sources: Path, e5: Embedder
) -> Iterator[tuple[TestClient, TestClient, TcpProxy]]:
    """Apps A and B on one SQLite log and one Redis prefix, Redis reached through a proxy."""
    asyncio.run(_reachable_or_skip())
    target = urlsplit(REDIS_URL)
    prefix = fresh_prefix()
    with tcp_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        settings = Settings(
            data_dir=tmp_path / "data",
            models_manifest=MANIFEST,
            kb_source_dir=kb_sources,
            ingest_demo_on_start=True,
            open_access=True,
            write_timeout_s=1.0,
            use_reranker=False,
            redis_url=f"redis://127.0.0.1:{proxy.port}{target.path or '/0'}",
            redis_prefix=prefix,
            _env_file=None,
        )
        with (
            TestClient(create_app(settings, embedder=e5)) as a,
            TestClient(create_app(settings, embedder=e5)) as b,
        ):
            yield a, b, proxy
    asyncio.run(_drop(prefix))


def _turn(client: TestClient, turn_id: str) -> Any:
    return client.post(
        "/v1/conversations/c-out/turns",
        json={"turn_id": turn_id, "speaker": "customer", "text": QUESTION, "agent_id": "ana"},
    )


def _until_ready(*clients: TestClient, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    for client in clients:
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, client.get("/readyz").json()
            time.sleep(0.2)


def test_redis_outage_answers_503_then_replicas_hear_each_other_again(
    replicas: tuple[TestClient, TestClient, TcpProxy],
) -> None:
    a, b, proxy = replicas
    assert _turn(a, "t1").status_code == 200
    assert a.get("/readyz").json()["redis"] == "ok"

    proxy.cut()
    ready = a.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["redis"] == "unavailable"
    refused = _turn(a, "t2")
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "storage_unavailable"

    proxy.restore()
    _until_ready(a, b)
    with b.websocket_connect("/v1/conversations/c-out/stream") as panel:
        panel.send_json({"type": "start", "agent_id": "ana"})
        assert panel.receive_json()["detail"] == "resumed"
        assert panel.receive_json()["turn_id"] == "t1"  # the latest suggestions, resent
        answer = _turn(a, "t2").json()  # the client resends what was refused
        assert answer["type"] == "suggestions", answer
        assert panel.receive_json()["turn_id"] == "t2"
        assert panel.receive_json() == answer
    log = b.get("/v1/conversations/c-out").json()
    assert [t["turn_id"] for t in log["turns"]] == ["t1", "t2"]
