"""Thousands of generated frames on one conversation socket: none closes it, it still answers."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, assume, given, seed, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from copilot.api.schemas import CLIENT_MESSAGE

logger = logging.getLogger(__name__)

FRAMES = 2000
FIELDS = ("id", "agent_id", "turn_id", "speaker", "text", "suggestion_id", "action", "language")

_any_char = st.characters(codec=None, exclude_categories=())  # lone surrogates included
_text = st.text(_any_char, max_size=12) | st.sampled_from(["customer", "agent", "es", "accepted"])
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_message = st.fixed_dictionaries(
    {"type": st.sampled_from(["start", "turn", "feedback", "end"]) | _json},
    optional=dict.fromkeys(FIELDS, _json),
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


_text_frames = st.one_of(
    _message.map(lambda m: json.dumps(m, ensure_ascii=True)),  # NaN and \\udXXX escapes pass
    _json.map(lambda v: json.dumps(v, ensure_ascii=True)),
    st.text(max_size=40),
    st.integers(500, 8000).map(_nested),
    st.integers(4000, 5000).map(lambda n: '{"type": "turn", "n": ' + "9" * n + "}"),
)
_frames: st.SearchStrategy[str | bytes] = _text_frames | st.binary(max_size=40)


def _acts(frame: str | bytes) -> bool:
    """Whether a frame is a valid message: it would change the conversation, not be refused."""
    if isinstance(frame, bytes):
        return False
    try:
        CLIENT_MESSAGE.validate_json(frame)
    except ValidationError:
        return False
    return True


def _answer(ws: WebSocketTestSession, fuzz_seed: int) -> dict[str, Any]:
    try:
        text = ws.receive_text()
    except WebSocketDisconnect as exc:
        raise AssertionError(f"socket closed with {exc.code} (fuzz seed {fuzz_seed})") from exc
    text.encode("utf-8")  # what uvicorn does to every text frame
    reply: dict[str, Any] = json.loads(text)
    return reply


def test_generated_frames_never_close_the_conversation_socket(
    roomy_client: TestClient, fuzz_seed: int
) -> None:
    logger.info("frame_fuzz seed=%d frames=%d (rerun with COPILOT_FUZZ_SEED)", fuzz_seed, FRAMES)
    sent = 0
    broken: list[str] = []  # after a failure the shared socket is unusable: fail fast, never wait
    with roomy_client.websocket_connect("/v1/conversations/c-fuzz/stream") as ws:
        # One connection carries every frame, so shrinking (replaying on a changed socket) is off.
        @seed(fuzz_seed)
        @settings(
            max_examples=FRAMES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        @given(_frames)
        def send_one(frame: str | bytes) -> None:
            nonlocal sent
            assert not broken, broken[0]
            assume(not _acts(frame))
            try:
                if isinstance(frame, bytes):
                    ws.send_bytes(frame)
                else:
                    ws.send_text(frame)
                sent += 1
                reply = _answer(ws, fuzz_seed)
                assert reply["type"] == "error", (fuzz_seed, reply)
                assert reply["code"] != "internal_error", (fuzz_seed, reply)
            except BaseException as exc:
                broken.append(f"frame {sent} failed (fuzz seed {fuzz_seed}): {exc!r}"[:500])
                raise

        send_one()
        ws.send_json({"type": "start", "agent_id": "agent-7", "client": "bank", "id": "s"})
        assert _answer(ws, fuzz_seed) == {"type": "ack", "ref": "s", "detail": "started"}
        ws.send_json({"type": "turn", "turn_id": "t1", "speaker": "customer", "text": "hola"})
        assert _answer(ws, fuzz_seed)["type"] == "suggestions"
    assert sent >= FRAMES * 0.9, f"only {sent} frames sent (fuzz seed {fuzz_seed})"
