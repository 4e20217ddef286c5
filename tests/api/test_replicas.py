"""Two apps in one process on one log database and one Redis prefix, as two replicas: a panel on
B follows turns posted to A, a turn id or feedback resent to the other app is a duplicate, and the
conversation resumes on B after A is gone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.testclient import WebSocketTestSession

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.gates import HeldEmbedder
from tests.redis_server import REDIS_URL, client_or_skip, drop_prefix, fresh_prefix

QUESTION = "me robaron la tarjeta oro, ¿qué hago?"
HELD = "quiero saber el saldo de mi tarjeta de regalo"


async def _reachable_or_skip() -> None:
    client = await client_or_skip()
    await client.aclose()


@pytest.fixture
def replica_settings(service_settings: Settings) -> Iterator[Settings]:
    """The service settings with Redis on, under a prefix of this test's own."""
    asyncio.run(_reachable_or_skip())
    prefix = fresh_prefix()
    shared = {"redis_url": SecretStr(REDIS_URL), "redis_prefix": prefix}
    yield service_settings.model_copy(update=shared)

    async def drop() -> None:
        client = await client_or_skip()
        await drop_prefix(client, prefix)
        await client.aclose()

    asyncio.run(drop())


def _app(settings: Settings, e5: Embedder | HeldEmbedder, reranker: Reranker) -> TestClient:
    return TestClient(create_app(settings, embedder=e5, reranker=reranker))


def _turn(turn_id: str, text: str = QUESTION, speaker: str = "customer") -> dict[str, Any]:
    return {"turn_id": turn_id, "speaker": speaker, "text": text, "agent_id": "agent-7"}


def _start(ws: WebSocketTestSession) -> str:
    ws.send_json({"type": "start", "agent_id": "agent-7", "client": "bank"})
    reply: dict[str, Any] = ws.receive_json()
    assert reply["type"] == "ack", reply
    detail: str = reply["detail"]
    return detail


def test_a_panel_on_b_follows_turns_posted_to_a_and_duplicates_hold_across(
    replica_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    with (
        _app(replica_settings, e5, use_reranker) as a,
        _app(replica_settings, e5, use_reranker) as b,
    ):
        assert b.get("/readyz").json()["redis"] == "ok"
        with b.websocket_connect("/v1/conversations/c-two/stream") as panel:
            assert _start(panel) == "started"
            answer = a.post("/v1/conversations/c-two/turns", json=_turn("t1")).json()
            assert answer["type"] == "suggestions", answer
            turn = panel.receive_json()
            assert (turn["type"], turn["turn_id"], turn["text"]) == ("turn", "t1", QUESTION)
            shown = panel.receive_json()
            assert shown == answer

            again = b.post("/v1/conversations/c-two/turns", json=_turn("t1")).json()
            assert again == answer  # a duplicate: its suggestions as they were, none made anew
            agent = _turn("a1", "Un momento.", "agent")
            assert a.post("/v1/conversations/c-two/turns", json=agent).json()["detail"] == "ok"
            assert panel.receive_json()["turn_id"] == "a1"
            resent = b.post("/v1/conversations/c-two/turns", json=agent).json()
            assert resent == {"type": "ack", "ref": "a1", "detail": "duplicate"}

            top = answer["suggestions"][0]
            feedback = {"suggestion_id": top["id"], "action": "accepted"}
            assert b.post("/v1/conversations/c-two/feedback", json=feedback).json()["detail"] == (
                "recorded"
            )
            assert a.post("/v1/conversations/c-two/feedback", json=feedback).json()["detail"] == (
                "duplicate"
            )
        log = b.get("/v1/conversations/c-two").json()
    assert [t["turn_id"] for t in log["turns"]] == ["t1", "a1"]
    assert len(log["suggestions"]) == len(answer["suggestions"])
    assert [f["suggestion_id"] for f in log["feedback"]] == [top["id"]]


def test_a_conversation_started_on_a_resumes_on_b_with_its_latest_suggestions(
    replica_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    with _app(replica_settings, e5, use_reranker) as a:
        with a.websocket_connect("/v1/conversations/c-move/stream") as panel:
            assert _start(panel) == "started"
            panel.send_json(
                {"type": "turn", "turn_id": "t1", "speaker": "customer", "text": QUESTION}
            )
            first = panel.receive_json()
            assert first["type"] == "suggestions", first
    with _app(replica_settings, e5, use_reranker) as b:
        with b.websocket_connect("/v1/conversations/c-move/stream") as panel:
            assert _start(panel) == "resumed"
            assert panel.receive_json() == first
            panel.send_json(
                {"type": "turn", "turn_id": "t1", "speaker": "customer", "text": QUESTION}
            )
            assert panel.receive_json() == {"type": "ack", "ref": "t1", "detail": "duplicate"}


def test_a_newer_turn_on_a_supersedes_the_pending_one_on_b(
    replica_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    held = HeldEmbedder(e5, HELD)
    with (
        _app(replica_settings, e5, use_reranker) as a,
        _app(replica_settings, held, use_reranker) as b,
        b.websocket_connect("/v1/conversations/c-race/stream") as panel,
        ThreadPoolExecutor(1) as pool,
    ):
        assert _start(panel) == "started"
        panel.send_json({"type": "turn", "turn_id": "t1", "speaker": "customer", "text": HELD})
        newer = pool.submit(a.post, "/v1/conversations/c-race/turns", json=_turn("t2"))
        frames = [panel.receive_json()]
        while frames[-1].get("type") != "turn":  # t2 is in: B's t1, still held, is stale now
            frames.append(panel.receive_json())
        assert frames[-1]["turn_id"] == "t2"
        held.release.set()
        while frames[-1].get("type") != "suggestions":
            frames.append(panel.receive_json())
        assert {"type": "ack", "ref": "t1", "detail": "superseded"} in frames
        shown = frames[-1]
        assert shown["turn_id"] == "t2"
        answer = newer.result(30).json()
        assert answer == shown
        log = a.get("/v1/conversations/c-race").json()
    assert [t["turn_id"] for t in log["turns"]] == ["t1", "t2"]
    assert {s["turn_id"] for s in log["suggestions"]} == {"t2"}
