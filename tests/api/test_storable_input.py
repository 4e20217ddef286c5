"""Input the API accepts is input the database stores: on SQLite and on PostgreSQL.

PostgreSQL cannot store a NUL character in text, and a team-memory origin names the agent id: both
used to be acknowledged and then dropped by the log writer.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

LONG_AGENT = "agent-" + "x" * 122  # the longest id the protocol accepts (128 characters)
QUESTION = "me robaron la tarjeta oro, ¿qué hago?"


def _turn(client: TestClient, conversation: str, text: str, agent_id: str) -> Any:
    body = {"turn_id": "t1", "speaker": "customer", "text": text, "client": "bank"}
    response = client.post(
        f"/v1/conversations/{conversation}/turns", json={**body, "agent_id": agent_id}
    )
    assert response.status_code == 200, response.text
    return response.json()


def _logged(client: TestClient, conversation: str, kind: str) -> list[dict[str, Any]]:
    """The conversation's logged suggestions of one kind (committed before they were sent)."""
    rows = client.get(f"/v1/conversations/{conversation}").json()["suggestions"]
    return [r for r in rows if r["kind"] == kind]


def test_memory_of_an_agent_with_the_longest_id_is_logged(client: TestClient) -> None:
    first = _turn(client, "long-1", QUESTION, LONG_AGENT)
    better = "Lamento lo ocurrido. Ya bloqueé su Tarjeta Oro; la nueva llega en cinco días hábiles."
    feedback = {"suggestion_id": first["suggestions"][0]["id"], "action": "edited"}
    response = client.post(
        "/v1/conversations/long-1/feedback", json={**feedback, "final_text": better}
    )
    assert response.status_code == 200, response.text
    second = _turn(client, "long-2", QUESTION, "agent-2")
    memory = [s for s in second["suggestions"] if s["kind"] == "memory"]
    assert memory, second["suggestions"]
    assert LONG_AGENT in memory[0]["origin"]
    logged = _logged(client, "long-2", "memory")
    assert [r["origin"] for r in logged] == [memory[0]["origin"]]


def test_nul_in_text_is_refused_with_a_clear_error(client: TestClient) -> None:
    body = {"turn_id": "t1", "speaker": "customer", "text": "hola\u0000", "client": "bank"}
    response = client.post("/v1/conversations/nul/turns", json=body)
    assert response.status_code == 422
    assert "NUL" in response.text
    # The client name is stored with the conversation (schemathesis found it on PostgreSQL).
    body = {"turn_id": "t1", "speaker": "customer", "text": "hola", "client": "b\u0000"}
    response = client.post("/v1/conversations/nul-client/turns", json=body)
    assert response.status_code == 422
    assert "NUL" in response.text
    # So is the channel (schemathesis again).
    body = {"turn_id": "t1", "speaker": "customer", "text": "hola", "channel": "\u0000"}
    response = client.post("/v1/conversations/nul-channel/turns", json=body)
    assert response.status_code == 422
    assert "NUL" in response.text
    with client.websocket_connect("/v1/conversations/nul-ws/stream") as ws:
        ws.send_json({"type": "start", "agent_id": "agent-1", "channel": "c\u0000"})
        assert "NUL" in ws.receive_json()["message"]
        ws.send_json({"type": "start", "agent_id": "agent-1", "client": "bank"})
        assert ws.receive_json()["detail"] == "started"
        ws.send_json({"type": "turn", "turn_id": "t1", "speaker": "customer", "text": "a\u0000b"})
        error = ws.receive_json()
        assert error["type"] == "error"
        assert "NUL" in error["message"]
        ws.send_json({"type": "turn", "turn_id": "t2", "speaker": "customer", "text": QUESTION})
        assert ws.receive_json()["type"] == "suggestions"


def test_a_conversation_id_the_log_cannot_hold_is_refused_on_every_route(
    client: TestClient,
) -> None:
    body = {"turn_id": "t1", "speaker": "customer", "text": "hola", "agent_id": "ana"}
    for bad in ("c" * 129, "nul%00id"):
        assert client.post(f"/v1/conversations/{bad}/turns", json=body).status_code == 422
        assert client.get(f"/v1/conversations/{bad}").status_code == 422
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect(f"/v1/conversations/{bad}/stream") as ws:
                ws.receive_json()
        assert closed.value.code == 1008  # policy violation: the socket is about that id
