"""Acknowledged means committed: concurrent first writes to a conversation, and reads right after
an acknowledgement, find every acknowledged turn and feedback in the log database."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

QUESTIONS = (
    "¿Cómo bloqueo mi tarjeta si me la robaron?",
    "Quiero cambiar la contraseña de la app",
)


def _turn(client: TestClient, conversation_id: str, turn_id: str, text: str) -> dict[str, Any]:
    response = client.post(
        f"/v1/conversations/{conversation_id}/turns",
        json={"turn_id": turn_id, "speaker": "customer", "text": text, "agent_id": "ana"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _logged(client: TestClient, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_two_first_turns_at_once_are_both_logged_with_their_feedback(client: TestClient) -> None:
    conversations = [f"race-{n}" for n in range(12)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(
                lambda job: _turn(client, *job),
                [(c, f"t{i}", QUESTIONS[i]) for c in conversations for i in range(2)],
            )
        )
        # Every suggestion any answer carried gets feedback, again two or more at once.
        feedback = [
            (a["conversation_id"], s["id"])
            for a in answers
            if a["type"] == "suggestions"
            for s in a["suggestions"]
            if s["kind"] != "reference"
        ]
        acks = list(
            pool.map(
                lambda job: client.post(
                    f"/v1/conversations/{job[0]}/feedback",
                    json={"suggestion_id": job[1], "action": "accepted"},
                ),
                feedback,
            )
        )
    assert feedback, "no suggestion to give feedback on"
    assert [a.status_code for a in acks] == [200] * len(acks)
    assert {a.json()["detail"] for a in acks} == {"recorded"}
    for conversation_id in conversations:
        logged = _logged(client, conversation_id)
        assert {t["turn_id"] for t in logged["turns"]} == {"t0", "t1"}, conversation_id
    logged_feedback = {
        f["suggestion_id"] for c in conversations for f in _logged(client, c)["feedback"]
    }
    assert logged_feedback == {s for _, s in feedback}


def test_panel_start_and_webhook_turn_at_once_lose_nothing(client: TestClient) -> None:
    """The documented demo flow: the panel's WebSocket ``start`` and the platform's REST turn."""

    def panel(conversation_id: str) -> str:
        with client.websocket_connect(f"/v1/conversations/{conversation_id}/stream") as ws:
            ws.send_json({"type": "start", "agent_id": "ana", "channel": "chat", "id": "s"})
            frame = ws.receive_json()
            while frame["type"] != "ack":  # the webhook's turn may be broadcast first
                frame = ws.receive_json()
            detail: str = frame["detail"]
            return detail

    conversations = [f"demo-{n}" for n in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        starts, turns = [], []
        for n, conversation_id in enumerate(conversations):
            starts.append(pool.submit(panel, conversation_id))
            time.sleep(0.005 * n)  # from "turn first" to "start well ahead"
            turns.append(pool.submit(_turn, client, conversation_id, "t1", QUESTIONS[0]))
        assert {s.result() for s in starts} <= {"started", "resumed"}
        assert all(t.result()["type"] in {"suggestions", "ack"} for t in turns)
    for conversation_id in conversations:
        assert [t["turn_id"] for t in _logged(client, conversation_id)["turns"]] == ["t1"]


def test_a_turn_sent_twice_at_once_is_logged_once_and_one_copy_is_a_duplicate(
    client: TestClient,
) -> None:
    _turn(client, "twice", "t0", "hola")
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: _turn(client, "twice", "t1", QUESTIONS[1]), range(2)))
    assert sorted(a["type"] for a in answers) == ["ack", "suggestions"]
    assert [a.get("detail") for a in answers if a["type"] == "ack"] == ["duplicate"]
    assert [t["turn_id"] for t in _logged(client, "twice")["turns"]] == ["t0", "t1"]
