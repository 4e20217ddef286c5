"""Frames no parser expects get an ``error`` frame, and the connection goes on answering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession


def _reply(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next frame, proven to be one a real server could encode (UTF-8, no lone surrogate)."""
    text = ws.receive_text()
    text.encode("utf-8")  # uvicorn encodes every text frame: a lone surrogate fails it there
    reply: dict[str, Any] = json.loads(text)
    return reply


def _still_answers(ws: WebSocketTestSession, turn_id: str) -> None:
    ws.send_json({"type": "turn", "turn_id": turn_id, "speaker": "customer", "text": "hola"})
    assert _reply(ws)["type"] == "suggestions"


@pytest.mark.parametrize(
    ("frame", "code", "message"),
    [
        ('{"type": ["turn"]}', "unknown_type", "type must be a string"),
        ('{"type": {}}', "unknown_type", "type must be a string"),
        ("[" * 3000 + "]" * 3000, "invalid_json", "nested too deeply"),
        ('{"a": ' * 3000 + "1" + "}" * 3000, "invalid_json", "nested too deeply"),
        ('{"type": "start", "n": ' + "7" * 4301 + "}", "invalid_json", "over 4300 digits"),
        ('{"type": "start", "agent_id": "a", "n": NaN}', "invalid_json", "NaN"),
        ('{"type": "start", "agent_id": "a", "x": -Infinity}', "invalid_json", "Infinity"),
    ],
)
def test_a_frame_the_parser_chokes_on_gets_an_error_frame(
    roomy_client: TestClient, frame: str, code: str, message: str
) -> None:
    with roomy_client.websocket_connect("/v1/conversations/c-choke/stream") as ws:
        ws.send_json({"type": "start", "agent_id": "agent-7", "client": "bank"})
        assert _reply(ws)["detail"] == "started"
        ws.send_text(frame)
        reply = _reply(ws)
        assert (reply["type"], reply["code"]) == ("error", code)
        assert message in reply["message"]
        _still_answers(ws, "t1")


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "dance", "id": "t-\\ud800"}',
        '{"type": "turn", "turn_id": "t-1", "id": "t-\\ud800"}',
        '{"type": "start", "agent_id": "a", "id": "t-\\udfff\\ud800"}',
        '{"type": "start", "agent_id": "a", "\\ud800": 1}',
        '{"type": "\\ud800"}',
    ],
)
def test_a_lone_surrogate_is_never_echoed_back(client: TestClient, frame: str) -> None:
    with client.websocket_connect("/v1/conversations/c-surrogate/stream") as ws:
        ws.send_text(frame)
        reply = _reply(ws)
        assert reply["type"] == "error"
        assert reply["ref"] is None
        ws.send_json({"type": "start", "agent_id": "agent-7", "client": "bank", "id": "s1"})
        assert _reply(ws) == {"type": "ack", "ref": "s1", "detail": "started"}
        _still_answers(ws, "t1")


def test_an_id_too_long_to_be_valid_is_not_echoed(client: TestClient) -> None:
    with client.websocket_connect("/v1/conversations/c-long-id/stream") as ws:
        ws.send_json({"type": "dance", "id": "x" * 129})
        assert _reply(ws)["ref"] is None
        ws.send_json({"type": "dance", "id": "x" * 128})
        assert _reply(ws)["ref"] == "x" * 128


def test_a_binary_frame_on_the_conversation_stream_gets_an_error_frame(
    client: TestClient,
) -> None:
    start = {"type": "start", "agent_id": "agent-7", "client": "bank"}
    with client.websocket_connect("/v1/conversations/c-binary/stream") as ws:
        for data in (json.dumps(start).encode("utf-16"), json.dumps(start).encode(), b"\xff"):
            ws.send_bytes(data)
            reply = _reply(ws)
            assert (reply["type"], reply["code"]) == ("error", "binary_frame")
            assert "text frame" in reply["message"]
        ws.send_json(start)
        assert _reply(ws)["detail"] == "started"
        _still_answers(ws, "t1")


def test_the_audio_socket_still_takes_binary_and_survives_bad_control_frames(
    roomy_client: TestClient,
) -> None:
    with roomy_client.websocket_connect("/v1/conversations/c-audio/audio") as ws:
        ws.send_bytes(b"\x00\x00" * 160)
        assert _reply(ws)["code"] == "not_started"  # read as audio, not as a JSON frame
        for frame, code in [
            ('{"type": ["start_audio"]}', "unknown_type"),
            ("[" * 3000 + "]" * 3000, "invalid_json"),
            ('{"type": "end_audio", "n": ' + "1" * 5000 + "}", "invalid_json"),
            ('{"type": "x", "id": "a-\\ud800"}', "unknown_type"),
        ]:
            ws.send_text(frame)
            reply = _reply(ws)
            assert (reply["code"], reply["ref"]) == (code, None)
        ws.send_json({"type": "end_audio", "id": "e1"})
        assert _reply(ws)["code"] == "not_started"
