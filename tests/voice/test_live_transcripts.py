"""Live transcripts: interim text while someone speaks, overload that skips windows, not finals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from copilot.api.app import create_app
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.voice.conftest import interleave, send_audio, silence, speak

LONG = (
    "I would like to know how much roaming costs on the basic plan when I travel to Peru next "
    "month with my family"
)


def _start_call(ws: WebSocketTestSession, channels: list[str]) -> None:
    ws.send_json(
        {"type": "start_audio", "agent_id": "agent-1", "channels": channels, "language": "en"}
    )
    assert ws.receive_json()["type"] == "ack"


def _frames_until_ended(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    ws.send_json({"type": "end_audio", "id": "end"})
    frames: list[dict[str, Any]] = []
    while (frame := ws.receive_json())["type"] != "ack":
        frames.append(frame)
    return frames


def _skipped(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("copilot_asr_interim_skipped_total "):
            return float(line.split()[1])
    raise AssertionError("no copilot_asr_interim_skipped_total in /metrics")


def test_interim_transcripts_reach_the_panel_before_the_final(
    voice_client: TestClient, speech_dir: Path
) -> None:
    clip = speak(LONG, "en", speech_dir)
    assert len(clip) > 16_000 * 6  # long enough for two windows that can agree
    audio = interleave(np.concatenate([silence(0.3), clip, silence(1.0)]))
    with voice_client.websocket_connect("/v1/conversations/live-1/stream") as panel:
        panel.send_json({"type": "start", "agent_id": "agent-1", "client": "telecom"})
        assert panel.receive_json()["detail"] == "started"
        with voice_client.websocket_connect("/v1/conversations/live-1/audio") as ws:
            _start_call(ws, ["customer"])
            send_audio(ws, audio, 1, pace=1.0)  # real time: interim decodes keep up
            _frames_until_ended(ws)
        seen: list[dict[str, Any]] = []
        while not (seen and seen[-1]["type"] == "transcript" and seen[-1]["final"]):
            seen.append(panel.receive_json())
    transcripts = [f for f in seen if f["type"] == "transcript"]
    interims = [f for f in transcripts if not f["final"]]
    final = transcripts[-1]
    assert interims, [f["text"] for f in transcripts]
    assert {f["utterance_id"] for f in interims} == {final["utterance_id"]}
    lengths = [len(f["text"]) for f in interims]
    assert lengths == sorted(lengths)  # interim text only grows
    assert interims[0]["text"].split()[0].lower() == final["text"].split()[0].lower()
    assert "roaming" in final["text"].lower()


def test_overload_skips_interim_windows_but_every_final_arrives(
    voice_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    recognizer: SpeechRecognizer,
    clips: dict[str, list[Any]],
) -> None:
    # A window due every 0.2 s of speech, a decode ~1.2 s: decodes cannot keep up.
    settings = voice_settings.model_copy(update={"asr_step_s": 0.2})
    customer = np.concatenate([silence(0.3), clips["en"][0], silence(1.0), clips["en"][1]])
    agent = np.concatenate([silence(len(customer) / 16_000 + 0.8), clips["en"][1]])
    app = create_app(settings, embedder=e5, reranker=use_reranker, recognizer=recognizer)
    with TestClient(app) as client:
        before = _skipped(client)
        with client.websocket_connect("/v1/conversations/busy-1/audio") as ws:
            _start_call(ws, ["customer", "agent"])
            send_audio(ws, interleave(customer, agent), 2)
            frames = _frames_until_ended(ws)
        skipped = _skipped(client) - before
    finals = [f for f in frames if f["type"] == "transcript" and f["final"]]
    assert [f["speaker"] for f in finals] == ["customer", "customer", "agent"]
    assert "refund" in finals[0]["text"].lower()
    assert all("roaming" in f["text"].lower() for f in finals[1:])
    interims = [f for f in frames if f["type"] == "transcript" and not f["final"]]
    windows = sum(len(c) for c in (customer, agent)) / 16_000 / 0.2
    assert skipped > 0
    assert len(interims) < windows / 2
