"""Speech fixtures: espeak-ng utterances synthesised once, the real Whisper model loaded once."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from copilot.api.app import create_app
from copilot.models.asr import SpeechRecognizer
from copilot.models.embedding import Embedder
from copilot.models.registry import recognizer_from_settings
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from copilot.voice.files import read_channels
from copilot.voice.formats import Samples, encode_pcm16
from tests.conftest import MANIFEST

# espeak-ng voice and speed per language: the default Spanish voice at 175 wpm came out as
# nonsense from Whisper base; the Latin American voice at 130 wpm is understood.
VOICES = {"en": ("en-us", 140), "es": ("es-419", 130), "pt": ("pt-br", 130)}

UTTERANCES = {
    "en": [
        "Hello, I was charged twice for my subscription and I would like a refund please.",
        "How much does roaming cost when I travel abroad?",
    ],
    "es": [
        "Hola, perdí mi tarjeta de crédito y necesito bloquearla ahora mismo.",
        "Quiero saber cuánto cuesta el roaming en el plan básico.",
    ],
    "pt": [
        "Olá, meu pedido ainda não chegou e eu quero saber onde está.",
        "Gostaria de trocar um produto com defeito.",
    ],
}


def _need_espeak() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        reason = "espeak-ng is not installed (apt-get install espeak-ng; `make test` does it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def speak(text: str, language: str, folder: Path) -> Samples:
    """Synthesise ``text`` with espeak-ng and return it as 16 kHz mono float32."""
    espeak = _need_espeak()
    voice, speed = VOICES[language]
    out = folder / f"{abs(hash((text, language)))}.wav"
    if not out.exists():
        subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    return read_channels(out)[0]


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where synthesised clips are cached for the session."""
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def clips(speech_dir: Path) -> dict[str, list[Samples]]:
    """Every utterance of ``UTTERANCES``, synthesised (once per session)."""
    return {lang: [speak(t, lang, speech_dir) for t in texts] for lang, texts in UTTERANCES.items()}


@pytest.fixture(scope="session")
def asr_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder shared by the session, so the model folder is assembled once."""
    return tmp_path_factory.mktemp("asr-data")


@pytest.fixture(scope="session")
def recognizer(asr_data_dir: Path) -> SpeechRecognizer:
    """The real Whisper base model (joined from its two PyPI packages), loaded once."""
    settings = Settings(data_dir=asr_data_dir, models_manifest=MANIFEST, _env_file=None)
    return recognizer_from_settings(settings)


def silence(seconds: float) -> Samples:
    """Digital silence at 16 kHz."""
    return np.zeros(int(seconds * 16_000), dtype=np.float32)


def interleave(*legs: Samples) -> bytes:
    """Legs (16 kHz float32) as one PCM16 stream, interleaved L R L R; shorter legs are padded."""
    n = max(len(leg) for leg in legs)
    both = np.zeros((n, len(legs)), dtype=np.float32)
    for i, leg in enumerate(legs):
        both[: len(leg), i] = leg
    return encode_pcm16(both.ravel())


def send_audio(ws: WebSocketTestSession, audio: bytes, channels: int, *, pace: float = 0.0) -> None:
    """Send PCM16 audio in 100-ms frames; ``pace`` 1.0 is real time, 0 as fast as possible."""
    step = 1600 * 2 * channels
    started = time.monotonic()
    for n, i in enumerate(range(0, len(audio), step)):
        ws.send_bytes(audio[i : i + step])
        if pace:
            delay = started + (n + 1) * 0.1 / pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)


@pytest.fixture
def voice_settings(tmp_path: Path, kb_sources: Path) -> Settings:
    """Service settings on the tiny test KB and SQLite, open access."""
    return Settings(
        data_dir=tmp_path / "data",
        models_manifest=MANIFEST,
        kb_source_dir=kb_sources,
        ingest_demo_on_start=True,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}",
        open_access=True,
        _env_file=None,
    )


@pytest.fixture
def voice_client(
    voice_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    recognizer: SpeechRecognizer,
) -> Iterator[TestClient]:
    """The real app with voice, sharing the session's models."""
    app = create_app(voice_settings, embedder=e5, reranker=use_reranker, recognizer=recognizer)
    with TestClient(app) as client:
        yield client
