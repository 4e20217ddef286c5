"""Read recorded calls (WAV, MP3, OGG, anything PyPI's PyAV decodes) as 16 kHz channels."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
from faster_whisper import decode_audio

from copilot.errors import AudioFormatError
from copilot.voice.formats import TARGET_RATE, Samples


def _channel_count(source: Path | BinaryIO) -> int:
    with av.open(source if not isinstance(source, Path) else str(source)) as container:
        if not container.streams.audio:
            raise AudioFormatError("the file holds no audio stream")
        return int(container.streams.audio[0].codec_context.channels)


def read_channels(source: Path | BinaryIO) -> list[Samples]:
    """Decode a recording to 16 kHz float32: ``[mono]`` or ``[left, right]``.

    Files with more than two channels keep the first two.

    Raises:
        AudioFormatError: The file cannot be decoded or holds no audio.
    """
    try:
        stereo = _channel_count(source) >= 2
        if not isinstance(source, Path):
            source.seek(0)
        decoded = decode_audio(
            str(source) if isinstance(source, Path) else source,
            sampling_rate=TARGET_RATE,
            split_stereo=stereo,
        )
    except (av.error.FFmpegError, OSError, IndexError, ValueError) as exc:
        raise AudioFormatError(f"the file cannot be decoded as audio: {exc}") from exc
    channels = list(decoded) if isinstance(decoded, tuple) else [decoded]
    return [np.ascontiguousarray(c, dtype=np.float32) for c in channels]
