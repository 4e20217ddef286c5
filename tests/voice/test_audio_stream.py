"""The live audio WebSocket end to end: real model and app, suggestions on the panel stream."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from copilot.api.app import create_app
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from copilot.voice.formats import Samples, encode_mulaw, encode_pcm16
from tests.voice.conftest import silence, speak

FRAME = 320 * 4  # 80 ms per frame keeps the test quick; the service takes any whole-sample size


def _start(ws: WebSocketTestSession, **fields: Any) -> dict[str, Any]:
    ws.send_json({"type": "start_audio", "id": "a1", "agent_id": "agent-1", **fields})
    reply: dict[str, Any] = ws.receive_json()
    return reply


def _stereo(left: Samples, right: Samples) -> bytes:
    n = max(len(left), len(right))
    both = np.zeros((n, 2), dtype=np.float32)
    both[: len(left), 0] = left
    both[: len(right), 1] = right
    return encode_pcm16(both.ravel())


def _until(ws: WebSocketTestSession, kind: str, **match: Any) -> dict[str, Any]:
    for _ in range(200):
        frame: dict[str, Any] = ws.receive_json()
        if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
            return frame
    raise AssertionError(f"no {kind} frame")


@pytest.mark.slow
def test_two_leg_call_gets_transcripts_and_a_suggestion_with_evidence(
    voice_client: TestClient, speech_dir: Any
) -> None:
    agent = speak("Hello, this is Maria from Andina Mobile, how can I help you?", "en", speech_dir)
    customer = speak(
        "I have plan basico. How much does roaming cost when I travel abroad?", "en", speech_dir
    )
    left = np.concatenate([silence(len(agent) / 16_000 + 0.8), customer, silence(1.5)])
    right = np.concatenate([agent, silence(len(customer) / 16_000 + 2.3)])
    audio = _stereo(left, right)
    with voice_client.websocket_connect("/v1/conversations/call-1/stream") as panel:
        panel.send_json({"type": "start", "agent_id": "agent-1", "client": "telecom"})
        assert panel.receive_json()["detail"] == "started"
        with voice_client.websocket_connect("/v1/conversations/call-1/audio") as ws:
            ack = _start(ws, channels=["customer", "agent"], language="en")
            assert ack == {"type": "ack", "ref": "a1", "detail": "resumed"}
            step = FRAME * 2  # stereo
            for i in range(0, len(audio), step):
                ws.send_bytes(audio[i : i + step])
            ws.send_json({"type": "end_audio", "id": "e1"})
            finals = []
            while True:
                frame = ws.receive_json()
                if frame["type"] == "ack":
                    assert frame["detail"] == "ended"
                    break
                if frame["type"] == "transcript" and frame["final"]:
                    finals.append(frame)
        assert [f["speaker"] for f in finals] == ["agent", "customer"]
        assert "roaming" in finals[1]["text"].lower()
        assert finals[1]["start_s"] > finals[0]["end_s"] - 0.5
        suggestions = _until(panel, "suggestions", turn_id=finals[1]["utterance_id"])
    # The gold article must be among the evidence; which of two close roaming articles ranks
    # first can differ by CPU (the transcript and the embeddings differ in their last digits).
    evidence = [e["doc_id"] for s in suggestions["suggestions"] for e in s["evidence"]]
    assert "tel-en-roaming-basico" in evidence


@pytest.mark.slow
def test_bad_frames_get_errors_and_the_call_goes_on(
    voice_client: TestClient, speech_dir: Any
) -> None:
    clip = speak("I would like a refund please.", "en", speech_dir)
    # 8 kHz μ-law, as telephony sends it: every other sample of the 16 kHz clip is close enough.
    telephone = encode_mulaw(np.concatenate([silence(0.3), clip, silence(1.0)])[::2])
    with voice_client.websocket_connect("/v1/conversations/call-2/audio") as ws:
        ws.send_bytes(b"\x00\x00" * 160)
        assert ws.receive_json()["code"] == "not_started"
        ws.send_text("{nope")
        assert ws.receive_json()["code"] == "invalid_json"
        bad = _start(ws, sample_rate=44100)
        assert bad["code"] == "invalid_message"
        assert "sample_rate" in bad["message"]
        assert _start(ws, sample_rate=8000, encoding="mulaw", language="en")["detail"] == "started"
        ws.send_bytes(b"\x00" * 70_000)
        assert ws.receive_json()["code"] == "frame_too_large"
        for i in range(0, len(telephone), 160):
            ws.send_bytes(telephone[i : i + 160])
        ws.send_json({"type": "end_audio"})
        final = _until(ws, "transcript", final=True)
        assert "refund" in final["text"].lower()
        assert ws.receive_json()["detail"] == "ended"


def test_odd_frame_size_is_refused_without_ending_the_call(voice_client: TestClient) -> None:
    with voice_client.websocket_connect("/v1/conversations/call-3/audio") as ws:
        assert _start(ws, channels=["customer", "agent"])["detail"] == "started"
        ws.send_bytes(b"\x00" * 6)  # 1.5 stereo PCM16 samples
        error = ws.receive_json()
        assert error["code"] == "invalid_audio"
        ws.send_bytes(b"\x00" * 1280)
        ws.send_json({"type": "end_audio", "id": "e"})
        assert ws.receive_json() == {"type": "ack", "ref": "e", "detail": "ended"}


def test_long_silence_and_noise_give_no_turns(voice_client: TestClient) -> None:
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(16_000 * 3) * 0.05).astype(np.float32)
    audio = encode_pcm16(np.concatenate([silence(5.0), noise, silence(1.0)]))
    with voice_client.websocket_connect("/v1/conversations/call-4/audio") as ws:
        assert _start(ws)["detail"] == "started"
        for i in range(0, len(audio), 3200):
            ws.send_bytes(audio[i : i + 3200])
        ws.send_json({"type": "end_audio"})
        frame = ws.receive_json()
        while frame["type"] == "transcript":
            assert frame["text"] == "" or not frame["final"] or len(frame["text"]) < 40
            frame = ws.receive_json()
        assert frame["detail"] == "ended"
    turns = voice_client.get("/v1/conversations/call-4").json()["turns"]
    assert all(t["speaker"] != "customer" or t["text"] for t in turns)


@pytest.mark.slow
def test_a_turn_transcribed_while_the_database_is_locked_is_logged_once_it_frees(
    voice_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    recognizer: SpeechRecognizer,
    speech_dir: Any,
) -> None:
    """No client retries a transcribed turn, so the service does: with writes timing out after
    0.3 s and the log tables locked until 2 s after the final transcript, the turn still reaches
    the log."""
    settings = voice_settings.model_copy(update={"write_timeout_s": 0.3})
    customer = speak("How much does roaming cost when I travel abroad?", "en", speech_dir)
    audio = _stereo(np.concatenate([silence(0.3), customer, silence(1.5)]), silence(0.1))
    app = create_app(settings, embedder=e5, reranker=use_reranker, recognizer=recognizer)
    with TestClient(app) as client:
        with client.websocket_connect("/v1/conversations/call-2/audio") as ws:
            assert _start(ws, channels=["customer", "agent"], language="en")["type"] == "ack"
            lock = sqlite3.connect(str(settings.database_url).split("///")[1], isolation_level=None)
            lock.execute("BEGIN EXCLUSIVE")
            try:
                for i in range(0, len(audio), FRAME * 2):
                    ws.send_bytes(audio[i : i + FRAME * 2])
                ws.send_json({"type": "end_audio", "id": "e1"})
                final = _until(ws, "transcript", final=True, speaker="customer")
                time.sleep(2.0)  # the turn's write has timed out by now
            finally:
                lock.execute("ROLLBACK")
                lock.close()
            assert _until(ws, "ack", ref="e1")["detail"] == "ended"
        logged = client.get("/v1/conversations/call-2").json()
    turns = [t for t in logged["turns"] if t["speaker"] == "customer"]
    assert [t["turn_id"] for t in turns] == [final["utterance_id"]]
