"""``copilot demo call FILE`` against a real service on a free port: transcripts, suggestion."""

from __future__ import annotations

import socket
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from typer.testing import CliRunner

from copilot.api.app import create_app
from copilot.cli.main import app as cli
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.voice.conftest import interleave, silence, speak


@pytest.fixture
def service_url(
    voice_settings: Settings, e5: Embedder, use_reranker: Reranker, recognizer: SpeechRecognizer
) -> Iterator[str]:
    """The real app served by uvicorn in a thread on a free port; its ``ws://`` base URL."""
    app = create_app(voice_settings, embedder=e5, reranker=use_reranker, recognizer=recognizer)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the service did not start"
        time.sleep(0.1)
    yield f"ws://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)
    sock.close()


def test_demo_call_streams_a_stereo_file_and_prints_transcripts_and_a_suggestion(
    service_url: str, tmp_path: Path, speech_dir: Path
) -> None:
    customer = speak("How much does roaming cost when I travel abroad?", "en", speech_dir)
    left = np.concatenate([silence(0.3), customer, silence(0.8)])
    path = tmp_path / "call.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(interleave(left, silence(len(left) / 16_000)))
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "call",
            str(path),
            "--url",
            service_url,
            "--client",
            "telecom",
            "--language",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    finals = [line for line in result.stdout.splitlines() if "final:" in line]
    assert any("customer" in line and "roaming" in line.lower() for line in finals), result.stdout
    assert "suggestion" in result.stdout
    assert "tel-en-roaming-basico" in result.stdout
