"""Decode live audio frames (PCM16 or μ-law, 8 or 16 kHz, one or two channels) to 16 kHz floats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import soxr
from numpy.typing import NDArray

from copilot.errors import AudioFormatError

TARGET_RATE = 16_000
SAMPLE_RATES = (8_000, 16_000)
Encoding = Literal["pcm16", "mulaw"]
Samples = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """How the bytes of a live stream are laid out.

    Attributes:
        sample_rate: 8000 (telephone) or 16000 samples per second per channel.
        encoding: ``pcm16`` (signed 16-bit little-endian) or ``mulaw`` (G.711 μ-law, 8 bits).
        channels: 1, or 2 for a stereo stream whose samples are interleaved (L R L R …).
    """

    sample_rate: int
    encoding: Encoding
    channels: int

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample on every channel; a frame must be a multiple of it."""
        return (2 if self.encoding == "pcm16" else 1) * self.channels

    def check(self) -> None:
        """Raise `AudioFormatError` for a rate, encoding or channel count this service refuses."""
        if self.sample_rate not in SAMPLE_RATES:
            raise AudioFormatError(f"sample_rate {self.sample_rate} is not one of {SAMPLE_RATES}")
        if self.encoding not in ("pcm16", "mulaw"):
            raise AudioFormatError(f"encoding {self.encoding!r} is not pcm16 or mulaw")
        if self.channels not in (1, 2):
            raise AudioFormatError(f"{self.channels} channels: only 1 or 2 are supported")


def _mulaw_table() -> Samples:
    codes = ~np.arange(256, dtype=np.uint8)
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = ((mantissa.astype(np.int32) << 3) + 0x84) << exponent
    linear = np.where(sign != 0, 0x84 - magnitude, magnitude - 0x84)
    return (linear / 32768.0).astype(np.float32)


_MULAW = _mulaw_table()


def decode_pcm16(data: bytes) -> Samples:
    """Little-endian signed 16-bit samples to float32 in [-1, 1)."""
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def decode_mulaw(data: bytes) -> Samples:
    """G.711 μ-law bytes to float32 in [-1, 1]."""
    return _MULAW[np.frombuffer(data, dtype=np.uint8)]


def encode_pcm16(samples: Samples) -> bytes:
    """float32 in [-1, 1] to little-endian signed 16-bit bytes (clipped)."""
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def encode_mulaw(samples: Samples) -> bytes:
    """float32 in [-1, 1] to G.711 μ-law bytes (nearest code; for tests and demos)."""
    order = np.argsort(_MULAW)
    idx = np.clip(np.searchsorted(_MULAW[order], samples), 1, 255)
    lower, upper = order[idx - 1], order[idx]
    nearer = np.where(
        np.abs(_MULAW[lower] - samples) <= np.abs(_MULAW[upper] - samples), lower, upper
    )
    return nearer.astype(np.uint8).tobytes()


class FrameDecoder:
    """Stateful decoder of one live stream: frames in, one 16 kHz float array per channel out.

    Resampling from 8 kHz keeps its filter state across frames (soxr streaming), so 20-ms frames
    join without clicks.
    """

    def __init__(self, fmt: AudioFormat) -> None:
        """Check the format and prepare the resampler.

        Raises:
            AudioFormatError: The format is not supported.
        """
        fmt.check()
        self.format = fmt
        self._resampler = (
            soxr.ResampleStream(fmt.sample_rate, TARGET_RATE, fmt.channels, dtype="float32")
            if fmt.sample_rate != TARGET_RATE
            else None
        )

    def decode(self, frame: bytes) -> list[Samples]:
        """Decode one frame.

        Returns:
            One float32 array per channel at 16 kHz (possibly empty while the resampler fills).

        Raises:
            AudioFormatError: The frame is empty or not a whole number of samples on every channel.
        """
        fmt = self.format
        if not frame or len(frame) % fmt.frame_bytes:
            raise AudioFormatError(
                f"frame of {len(frame)} bytes is not a whole number of {fmt.channels}-channel "
                f"{fmt.encoding} samples ({fmt.frame_bytes} bytes each)"
            )
        flat = decode_pcm16(frame) if fmt.encoding == "pcm16" else decode_mulaw(frame)
        interleaved = flat.reshape(-1, fmt.channels)
        if self._resampler is not None:
            interleaved = self._resampler.resample_chunk(interleaved).reshape(-1, fmt.channels)
        return [np.ascontiguousarray(interleaved[:, c]) for c in range(fmt.channels)]
