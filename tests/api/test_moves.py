"""Conversational moves end to end: courtesy replies, escalation cues, no KB gaps, counts."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession


def _ask(ws: WebSocketTestSession, turn_id: str, text: str) -> dict[str, Any]:
    ws.send_json({"type": "turn", "turn_id": turn_id, "speaker": "customer", "text": text})
    reply: dict[str, Any] = ws.receive_json()
    assert reply["type"] == "suggestions", reply
    return reply


def _start(ws: WebSocketTestSession) -> None:
    ws.send_json({"type": "start", "agent_id": "agent-7", "client": "bank"})
    assert ws.receive_json()["detail"] == "started"


def test_hola_and_a_closing_get_courtesy_replies_and_are_no_kb_gaps(client: TestClient) -> None:
    with client.websocket_connect("/v1/conversations/mv-hola/stream") as ws:
        _start(ws)
        hello = _ask(ws, "t1", "Hola")
        bye = _ask(ws, "t2", "ok gracias, eso era todo")
    for reply, start in ((hello, "¡Hola!"), (bye, "Gracias por contactarnos")):
        assert reply["kb_gap"] is False
        (only,) = reply["suggestions"]
        assert only["kind"] == "move"
        assert only["language"] == "es"
        assert only["text"].startswith(start)
        assert only["evidence"] == []
    assert client.get("/v1/kb-gaps").json() == []
    turns = client.get("/v1/conversations/mv-hola").json()["turns"]
    assert [t["kb_gap"] for t in turns if t["speaker"] == "customer"] == [False, False]


def test_supervisor_request_gets_an_escalation_cue_counted_in_the_console(
    client: TestClient,
) -> None:
    with client.websocket_connect("/v1/conversations/mv-sup/stream") as ws:
        _start(ws)
        reply = _ask(ws, "t1", "quiero hablar con un supervisor, esto es un desastre!!")
        assert reply["kb_gap"] is False
        assert reply["suggestions"][0]["kind"] == "escalate"
        assert "supervisor" in reply["suggestions"][0]["text"]
        _ask(ws, "t2", "Hola")
    listed = client.get("/v1/supervisor/conversations").json()
    assert {c["conversation"]["conversation_id"]: c["escalations"] for c in listed} == {"mv-sup": 1}
    detail = client.get("/v1/supervisor/conversations/mv-sup").json()
    assert detail["escalations"] == 1


def test_anger_beside_a_question_keeps_the_kb_answer_after_the_cue(client: TestClient) -> None:
    body = {
        "turn_id": "t1",
        "speaker": "customer",
        "text": "estoy furioso, me robaron la tarjeta oro y nadie me ayuda",
        "client": "bank",
    }
    reply = client.post("/v1/conversations/mv-mixed/turns", json=body).json()
    kinds = [s["kind"] for s in reply["suggestions"]]
    assert kinds[0] == "escalate"
    assert "grounded" in kinds
    grounded = reply["suggestions"][kinds.index("grounded")]
    assert grounded["evidence"][0]["doc_id"] == "bank-es-bloqueo"


def test_a_greeting_with_a_question_still_gets_kb_suggestions(client: TestClient) -> None:
    body = {
        "turn_id": "t1",
        "speaker": "customer",
        "text": "Hola, me robaron la tarjeta oro",
        "client": "bank",
    }
    reply = client.post("/v1/conversations/mv-q/turns", json=body).json()
    assert reply["suggestions"][0]["kind"] == "grounded"
    assert reply["suggestions"][0]["evidence"][0]["doc_id"] == "bank-es-bloqueo"
