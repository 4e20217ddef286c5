"""End to end over a real WebSocket, real models and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.gates import HeldEmbedder

CARD = "4111 1111 1111 1111"
EMAIL = "ana.perez@example.com"


def _start(ws: WebSocketTestSession, **extra: Any) -> dict[str, Any]:
    ws.send_json({"type": "start", "agent_id": "agent-7", "client": "bank", **extra})
    reply: dict[str, Any] = ws.receive_json()
    return reply


def _ask(ws: WebSocketTestSession, turn_id: str, text: str) -> dict[str, Any]:
    ws.send_json({"type": "turn", "turn_id": turn_id, "speaker": "customer", "text": text})
    reply: dict[str, Any] = ws.receive_json()
    assert reply["type"] == "suggestions", reply
    assert reply["turn_id"] == turn_id
    return reply


def _feedback(ws: WebSocketTestSession, suggestion_id: str, action: str, **extra: Any) -> str:
    ws.send_json({"type": "feedback", "suggestion_id": suggestion_id, "action": action, **extra})
    reply = ws.receive_json()
    assert reply["type"] == "ack", reply
    detail: str = reply["detail"]
    return detail


def test_full_conversation_with_accept_edit_and_reject(client: TestClient) -> None:
    with client.websocket_connect("/v1/conversations/c-full/stream") as ws:
        assert _start(ws, id="m1") == {"type": "ack", "ref": "m1", "detail": "started"}
        ws.send_json({"type": "turn", "turn_id": "a1", "speaker": "agent", "text": "¡Hola!"})
        assert ws.receive_json() == {"type": "ack", "ref": "a1", "detail": "ok"}

        first = _ask(ws, "t1", "me robaron la tarjeta oro, ¿qué hago?")
        top = first["suggestions"][0]
        assert top["kind"] == "grounded"
        assert top["language"] == "es"
        assert top["evidence"][0]["doc_id"] == "bank-es-bloqueo"
        assert "0800 100 200" in top["text"] or "cinco días" in top["text"]
        assert set(top["evidence"][0]) == {
            "doc_id",
            "title",
            "section",
            "snippet",
            "score",
            "source",
            "language",
        }
        assert top["evidence"][0]["language"] == "es"
        assert _feedback(ws, top["id"], "accepted") == "recorded"

        second = _ask(ws, "t2", "¿cuánto tiempo tengo para disputar un cargo?")
        edited = second["suggestions"][0]
        new_text = edited["text"] + " Le envío el formulario por correo."
        assert _feedback(ws, edited["id"], "edited", final_text=new_text) == "recorded"

        third = _ask(ws, "t3", "y la tarjeta nueva cuándo llega")
        rejected = third["suggestions"][0]
        assert _feedback(ws, rejected["id"], "rejected", reason="off topic") == "recorded"
        ws.send_json({"type": "end", "id": "bye"})
        assert ws.receive_json() == {"type": "ack", "ref": "bye", "detail": "ended"}

    log = client.get("/v1/conversations/c-full").json()
    assert [t["turn_id"] for t in log["turns"]] == ["a1", "t1", "t2", "t3"]
    assert {s["suggestion_id"] for s in log["suggestions"]} >= {
        top["id"],
        edited["id"],
        rejected["id"],
    }
    by_id = {f["suggestion_id"]: f for f in log["feedback"]}
    assert by_id[top["id"]]["action"] == "accepted"
    assert by_id[top["id"]]["edit_distance"] == 0
    assert by_id[edited["id"]]["action"] == "edited"
    assert by_id[edited["id"]]["edit_distance"] == len(" Le envío el formulario por correo.")
    assert 0 < by_id[edited["id"]]["similarity"] < 1
    assert by_id[rejected["id"]]["reason"] == "off topic"
    stored = next(s for s in log["suggestions"] if s["suggestion_id"] == top["id"])
    assert stored["evidence"][0]["doc_id"] == "bank-es-bloqueo"
    assert stored["latency_ms"] > 0


def test_a_reference_cannot_be_accepted_only_rejected_or_replaced(client: TestClient) -> None:
    """A reference holds evidence, no reply: accepting it would log a reply nobody sent."""
    with client.websocket_connect("/v1/conversations/c-ref/stream") as ws:
        _start(ws, client="telecom")
        reply = _ask(ws, "t1", "¿cuánto cuesta el roaming con el Plan Básico?")
        reference = next(s for s in reply["suggestions"] if s["kind"] == "reference")
        for action in ("accepted", "edited"):
            ws.send_json(
                {
                    "type": "feedback",
                    "id": action,
                    "suggestion_id": reference["id"],
                    "action": action,
                }
            )
            error = ws.receive_json()
            assert (error["type"], error["code"], error["ref"]) == (
                "error",
                "invalid_message",
                action,
            )
        own = "El roaming en el Plan Básico cuesta USD 3 por megabyte."
        assert _feedback(ws, reference["id"], "edited", final_text=own) == "recorded"


def test_bad_input_gets_error_frames_and_the_connection_stays_open(client: TestClient) -> None:
    with client.websocket_connect("/v1/conversations/c-bad/stream") as ws:
        ws.send_json({"type": "turn", "turn_id": "t0", "speaker": "customer", "text": "hola"})
        assert ws.receive_json()["code"] == "not_started"
        _start(ws)
        good = _ask(ws, "t1", "me robaron la tarjeta oro")
        cases: list[tuple[str, str]] = [
            ("{not json", "invalid_json"),
            ('{"type": "dance"}', "unknown_type"),
            ('["a list"]', "unknown_type"),
            ('{"type": "turn", "turn_id": "t2", "speaker": "customer"}', "invalid_message"),
            (
                '{"type": "turn", "turn_id": "t2", "speaker": "robot", "text": "x"}',
                "invalid_message",
            ),
            (
                '{"type": "feedback", "suggestion_id": "nope", "action": "accepted"}',
                "unknown_suggestion",
            ),
            (
                '{"type": "turn", "turn_id": "big", "speaker": "customer", "text": "'
                + "a" * 5000
                + '"}',
                "frame_too_large",
            ),
        ]
        for frame, code in cases:
            ws.send_text(frame)
            reply = ws.receive_json()
            assert reply["type"] == "error"
            assert reply["code"] == code, frame[:60]
            assert reply["message"]
        ws.send_json({"type": "feedback", "suggestion_id": "x", "action": "maybe", "id": "f9"})
        assert ws.receive_json()["ref"] == "f9"
        assert _feedback(ws, good["suggestions"][0]["id"], "accepted") == "recorded"
        after = _ask(ws, "t3", "¿cuánto tiempo tengo para disputar un cargo?")
        assert after["suggestions"]
    log = client.get("/v1/conversations/c-bad").json()
    assert [t["turn_id"] for t in log["turns"]] == ["t1", "t3"]
    assert len(log["feedback"]) == 1


def test_reconnect_resumes_without_losing_or_duplicating(client: TestClient) -> None:
    path = "/v1/conversations/c-net/stream"
    with client.websocket_connect(path) as ws:
        _start(ws)
        sent = _ask(ws, "t1", "me robaron la tarjeta oro")
        first_id = sent["suggestions"][0]["id"]
        assert _feedback(ws, first_id, "accepted") == "recorded"
    with client.websocket_connect(path) as ws:
        assert _start(ws)["detail"] == "resumed"
        resent = ws.receive_json()
        assert resent["type"] == "suggestions"
        assert resent["turn_id"] == "t1"
        assert [s["id"] for s in resent["suggestions"]] == [s["id"] for s in sent["suggestions"]]
        ws.send_json({"type": "turn", "turn_id": "t1", "speaker": "customer", "text": "again"})
        assert ws.receive_json() == {"type": "ack", "ref": "t1", "detail": "duplicate"}
        assert ws.receive_json()["turn_id"] == "t1"
        assert _feedback(ws, first_id, "accepted") == "duplicate"
    log = client.get("/v1/conversations/c-net").json()
    assert [t["turn_id"] for t in log["turns"]] == ["t1"]
    assert len(log["suggestions"]) == len(sent["suggestions"])
    assert len(log["feedback"]) == 1


def test_newer_customer_turn_supersedes_the_pending_one(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    first = "hola, quiero saber el saldo de mi tarjeta de regalo"
    held = HeldEmbedder(e5, first)  # t1 is still being answered when t2 joins the dialogue
    app = create_app(service_settings, embedder=held, reranker=use_reranker)
    with (
        TestClient(app) as client,
        client.websocket_connect("/v1/conversations/c-fast/stream") as ws,
    ):
        _start(ws)
        for turn_id, text in [("t1", first), ("t2", "me robaron la tarjeta oro, ¿qué hago?")]:
            ws.send_json({"type": "turn", "turn_id": turn_id, "speaker": "customer", "text": text})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            logged = client.get("/v1/conversations/c-fast").json()["turns"]
            if [t["turn_id"] for t in logged] == ["t1", "t2"]:
                break
            time.sleep(0.05)
        held.release.set()
        replies = [ws.receive_json(), ws.receive_json()]
    assert {"type": "ack", "ref": "t1", "detail": "superseded"} in replies
    suggestions = [r for r in replies if r["type"] == "suggestions"]
    assert [r["turn_id"] for r in suggestions] == ["t2"]


def test_agent_turn_arriving_while_a_customer_turn_waits_does_not_replace_it(
    client: TestClient,
) -> None:
    with client.websocket_connect("/v1/conversations/c-race/stream") as ws:
        _start(ws)
        frames = [
            ("t0", "customer", "¿cuánto tiempo tengo para disputar un cargo?"),
            ("t1", "customer", "me robaron la tarjeta oro, ¿qué hago?"),
            ("a1", "agent", "Mientras tanto, ¿vio el partido de fútbol de ayer?"),
        ]
        for turn_id, speaker, text in frames:
            if turn_id == "a1":
                time.sleep(0.02)  # t0 is still being answered and t1 waits for it when a1 lands
            ws.send_json({"type": "turn", "turn_id": turn_id, "speaker": speaker, "text": text})
        replies = [ws.receive_json() for _ in range(3)]
    suggestions = [r for r in replies if r["type"] == "suggestions"]
    assert [r["turn_id"] for r in suggestions] == ["t1"]
    answer = suggestions[0]
    assert answer["kb_gap"] is False
    assert answer["suggestions"][0]["kind"] == "grounded"
    assert answer["suggestions"][0]["evidence"][0]["doc_id"] == "bank-es-bloqueo"
    assert "0800 100 200" in answer["suggestions"][0]["text"]
    assert {"type": "ack", "ref": "a1", "detail": "ok"} in replies
