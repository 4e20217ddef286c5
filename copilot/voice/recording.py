"""Optionally keep a live call's audio as a WAV file, and delete recordings past retention."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from copilot.voice.formats import TARGET_RATE, Samples, encode_pcm16


class CallRecorder:
    """Writes the decoded legs of one call (16 kHz PCM16, one channel per leg) to a WAV file."""

    def __init__(self, path: Path, channels: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._wav = wave.open(str(path), "wb")  # closed by close()
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(2)
        self._wav.setframerate(TARGET_RATE)

    def write(self, channels: list[Samples]) -> None:
        """Append one decoded frame (equal-length channels)."""
        n = min(len(c) for c in channels)
        if n:
            self._wav.writeframes(encode_pcm16(np.stack([c[:n] for c in channels], axis=1).ravel()))

    def close(self) -> None:
        """Finish the WAV header."""
        self._wav.close()


def purge_recordings(folder: Path, retention_days: int, now: float | None = None) -> int:
    """Delete ``*.wav`` files in ``folder`` older than the retention period; returns how many."""
    if not folder.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - retention_days * 86_400
    removed = 0
    for path in folder.glob("*.wav"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
