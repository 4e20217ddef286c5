"""A card number said on a call reaches neither the panel, nor the database, nor the logs."""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.voice.conftest import interleave, send_audio, silence, speak

CARD = "4532015112830366"  # a Luhn-valid test Visa number
# espeak-ng reads the digits one by one; Whisper base writes them back regrouped at will
# ("Card number 4-532-0151-128-3-0366" on this clip), which the redactor must still catch.
SPOKEN = "My card number is 4 5 3 2, 0 1 5 1, 1 2 8 3, 0 3 6 6."


def _leaks(text: str) -> bool:
    """Whether ``text`` holds 8 or more digits of the card in a row (any separators between)."""
    digits = re.sub(r"\D", "", text)
    return any(CARD[i : i + 8] in digits for i in range(len(CARD) - 7))


def _stored_texts(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return [
            str(value)
            for table in tables
            for row in db.execute(f'SELECT * FROM "{table}"')  # names from sqlite_master
            for value in row
            if isinstance(value, str)
        ]


def test_a_spoken_card_number_is_masked_on_the_panel_in_the_database_and_in_logs(
    voice_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    recognizer: SpeechRecognizer,
    speech_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clip = speak(SPOKEN, "en", speech_dir)
    audio = interleave(np.concatenate([silence(0.3), clip, silence(1.0)]))
    app = create_app(voice_settings, embedder=e5, reranker=use_reranker, recognizer=recognizer)
    frames: list[dict[str, Any]] = []
    with TestClient(app) as client:
        with client.websocket_connect("/v1/conversations/pii-1/stream") as panel:
            panel.send_json({"type": "start", "agent_id": "agent-1", "client": "bank"})
            assert panel.receive_json()["detail"] == "started"
            with client.websocket_connect("/v1/conversations/pii-1/audio") as ws:
                ws.send_json({"type": "start_audio", "agent_id": "agent-1", "language": "en"})
                assert ws.receive_json()["type"] == "ack"
                send_audio(ws, audio, 1, pace=1.0)  # real time, so interim windows run too
                ws.send_json({"type": "end_audio"})
                while (frame := ws.receive_json())["type"] != "ack":
                    frames.append(frame)
            while True:
                frame = panel.receive_json()
                frames.append(frame)
                if frame["type"] == "suggestions":
                    break
        stored = client.get("/v1/conversations/pii-1").json()
    transcripts = [f for f in frames if f["type"] == "transcript"]
    final = next(f for f in transcripts if f["final"])
    assert "[CARD]" in final["text"], final["text"]
    assert not [f["text"] for f in transcripts if _leaks(f["text"])]
    assert not _leaks(str(stored))
    rows = _stored_texts(voice_settings.data_dir.parent / "copilot.sqlite")
    assert any("[CARD]" in t for t in rows)  # the turn was stored, masked
    assert not [t for t in rows if _leaks(t)]
    assert not [r.getMessage() for r in caplog.records if _leaks(r.getMessage())]
