"""Recorded calls: ``POST /v1/transcribe`` and ``copilot transcribe``."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from copilot.cli.main import app
from copilot.voice.formats import Samples, encode_pcm16
from tests.conftest import MANIFEST
from tests.voice.conftest import silence, speak


def _wav(channels: list[Samples]) -> bytes:
    n = max(len(c) for c in channels)
    stacked = np.zeros((n, len(channels)), dtype=np.float32)
    for i, c in enumerate(channels):
        stacked[: len(c), i] = c
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(encode_pcm16(stacked.ravel()))
    return buffer.getvalue()


def test_transcribe_endpoint_returns_speakers_and_timestamps(
    voice_client: TestClient, speech_dir: Path
) -> None:
    agent = speak("Good morning, how can I help you?", "en", speech_dir)
    customer = speak("I lost my card and I need to block it.", "en", speech_dir)
    left = np.concatenate([silence(len(agent) / 16_000 + 0.7), customer])
    body = _wav([left, agent])
    reply = voice_client.post(
        "/v1/transcribe", files={"file": ("call.wav", body, "audio/wav")}, data={"language": "en"}
    )
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["language"] == "en"
    speakers = [s["speaker"] for s in result["segments"]]
    assert speakers[0] == "agent"
    assert "customer" in speakers
    customer_text = " ".join(s["text"] for s in result["segments"] if s["speaker"] == "customer")
    assert "block" in customer_text.lower()
    assert result["segments"][0]["start_s"] < 0.5


def test_transcribe_endpoint_refuses_a_file_that_is_not_audio(voice_client: TestClient) -> None:
    reply = voice_client.post(
        "/v1/transcribe", files={"file": ("notes.txt", b"hello there", "text/plain")}
    )
    assert reply.status_code == 415
    assert reply.json()["code"] == "invalid_audio"


def test_transcribe_command_prints_json(
    tmp_path: Path, asr_data_dir: Path, speech_dir: Path
) -> None:
    clip = speak("How much does roaming cost when I travel abroad?", "en", speech_dir)
    path = tmp_path / "call.wav"
    path.write_bytes(_wav([clip]))
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["--data-dir", str(asr_data_dir), "transcribe", str(path), "--language", "en", "--json"],
        env={"COPILOT_MODELS_MANIFEST": str(MANIFEST)},
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["language"] == "en"
    assert "roaming" in out["segments"][0]["text"].lower()
    assert out["segments"][0]["speaker"] == "unknown"
