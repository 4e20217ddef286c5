"""After a restart, feedback a panel queued for any logged suggestion is still recorded once."""

from __future__ import annotations

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
