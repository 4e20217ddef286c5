"""``keep_audio``: on, a call's audio is kept as WAV and old recordings are purged; off, none."""

from __future__ import annotations

import os
import time
import wave

import numpy as np
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.voice.conftest import interleave, send_audio, silence

DAY = 86_400


def _call(client: TestClient, conversation_id: str, seconds: float) -> None:
    rng = np.random.default_rng(3)
    left = (rng.standard_normal(int(seconds * 16_000)) * 0.01).astype(np.float32)
    with client.websocket_connect(f"/v1/conversations/{conversation_id}/audio") as ws:
        ws.send_json(
            {"type": "start_audio", "agent_id": "agent-1", "channels": ["customer", "agent"]}
        )
        assert ws.receive_json()["type"] == "ack"
        send_audio(ws, interleave(left, silence(seconds)), 2)
        ws.send_json({"type": "end_audio", "id": "e"})
        assert ws.receive_json() == {"type": "ack", "ref": "e", "detail": "ended"}


def test_kept_audio_is_a_stereo_wav_and_recordings_past_retention_are_deleted(
    voice_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    recognizer: SpeechRecognizer,
) -> None:
    settings = voice_settings.model_copy(update={"keep_audio": True, "audio_retention_days": 7})
    folder = settings.data_dir / "audio"
    folder.mkdir(parents=True)
    old, recent = folder / "old-call.wav", folder / "recent-call.wav"
    for path, age_days in ((old, 8), (recent, 6)):
        path.write_bytes(b"RIFF")
        stamp = time.time() - age_days * DAY
        os.utime(path, (stamp, stamp))
    app = create_app(settings, embedder=e5, reranker=use_reranker, recognizer=recognizer)
    with TestClient(app) as client:
        _call(client, "kept-1", 1.5)
    assert not old.exists()
    assert recent.exists()
    kept = sorted(folder.glob("kept-1-*.wav"))
    assert len(kept) == 1
    with wave.open(str(kept[0])) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 16_000)
        assert wav.getnframes() == int(1.5 * 16_000)


def test_no_audio_is_written_when_keep_audio_is_off(
    voice_client: TestClient, voice_settings: Settings
) -> None:
    assert not voice_settings.keep_audio
    _call(voice_client, "not-kept-1", 1.0)
    data = voice_settings.data_dir
    assert not (data / "audio").exists()
    assert not list(data.rglob("*.wav"))
