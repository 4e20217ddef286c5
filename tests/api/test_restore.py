"""After a restart, feedback a panel queued for any logged suggestion is still recorded once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings


def _ask(client: TestClient, turn_id: str, text: str) -> str:
    body = {"turn_id": turn_id, "speaker": "customer", "text": text, "client": "bank"}
    response = client.post("/v1/conversations/queued/turns", json=body)
    assert response.status_code == 200, response.text
    suggestion_id: str = response.json()["suggestions"][0]["id"]
    return suggestion_id


def _feedback(ws: Any, suggestion_id: str, action: str) -> str:
    ws.send_json({"type": "feedback", "suggestion_id": suggestion_id, "action": action})
    reply = ws.receive_json()
    assert reply["type"] == "ack", reply
    detail: str = reply["detail"]
    return detail


def test_feedback_for_an_older_suggestion_is_recorded_after_a_restart(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    with TestClient(create_app(service_settings, embedder=e5, reranker=use_reranker)) as first:
        older = _ask(first, "t1", "me robaron la tarjeta oro, ¿qué hago?")
        latest = _ask(first, "t2", "¿cuánto tiempo tengo para disputar un cargo?")
        reply = first.post(
            "/v1/conversations/queued/feedback",
            json={"suggestion_id": latest, "action": "accepted"},
        )
        assert reply.json()["detail"] == "recorded"
    with TestClient(create_app(service_settings, embedder=e5, reranker=use_reranker)) as second:
        with second.websocket_connect("/v1/conversations/queued/stream") as ws:
            ws.send_json({"type": "start", "agent_id": "agent-7"})
            assert ws.receive_json()["detail"] == "resumed"
            assert ws.receive_json()["turn_id"] == "t2"  # the latest suggestions, as before
            # The panel's queue, flushed after the reconnect: the older one was never delivered,
            # the latest one was but its ack was lost.
            assert _feedback(ws, older, "rejected") == "recorded"
            assert _feedback(ws, latest, "accepted") == "duplicate"
            assert _feedback(ws, older, "rejected") == "duplicate"
        log = second.get("/v1/conversations/queued").json()
    assert sorted((f["suggestion_id"], f["action"]) for f in log["feedback"]) == sorted(
        [(older, "rejected"), (latest, "accepted")]
    )


def test_a_team_memory_reply_names_its_agent_and_time_live_and_after_a_restart(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    """The panel shows who wrote a remembered reply and when: both ride in the origin."""
    question = "me robaron la tarjeta oro, ¿qué hago?"
    better = "Ya bloqueamos su Tarjeta Oro. La reposición llega en cinco días hábiles, sin costo."
    origin = re.compile(r"^team memory: agent-ana, suggestion [0-9a-f]+, at (\S+)$")

    def memory_origin(client: TestClient, conversation: str) -> datetime:
        body = {"turn_id": "t1", "speaker": "customer", "text": question, "client": "bank"}
        reply = client.post(f"/v1/conversations/{conversation}/turns", json=body).json()
        [memory] = [s for s in reply["suggestions"] if s["kind"] == "memory"]
        found = origin.match(memory["origin"])
        assert found, memory["origin"]
        return datetime.fromisoformat(found[1])

    with TestClient(create_app(service_settings, embedder=e5, reranker=use_reranker)) as first:
        body = {
            "turn_id": "t1",
            "speaker": "customer",
            "text": question,
            "client": "bank",
            "agent_id": "agent-ana",
        }
        reply = first.post("/v1/conversations/mem-a/turns", json=body).json()
        first.post(
            "/v1/conversations/mem-a/feedback",
            json={
                "suggestion_id": reply["suggestions"][0]["id"],
                "action": "edited",
                "final_text": better,
            },
        )
        sent_at = first.get("/v1/conversations/mem-a").json()["feedback"][0]["created_at"]
        live = memory_origin(first, "mem-b")
    with TestClient(create_app(service_settings, embedder=e5, reranker=use_reranker)) as second:
        restored = memory_origin(second, "mem-c")
    recorded = datetime.fromisoformat(sent_at)
    if recorded.tzinfo is None:  # SQLite gives the stored UTC time back without its zone
        recorded = recorded.replace(tzinfo=UTC)
    assert live.tzinfo is not None
    assert restored.tzinfo is not None
    assert abs((live - recorded).total_seconds()) < 1
    assert abs((restored - recorded).total_seconds()) < 1
