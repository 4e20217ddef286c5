"""Live audio decoding and the utterance tracker, without the speech model."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.errors import AudioFormatError
from copilot.voice.formats import (
    AudioFormat,
    FrameDecoder,
    decode_mulaw,
    encode_mulaw,
    encode_pcm16,
)
from copilot.voice.stable import StableText
from copilot.voice.tracker import TrackerSettings, UtteranceTracker


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def test_mulaw_round_trip_is_close() -> None:
    x = _tone(0.1, 8000)
    assert np.max(np.abs(decode_mulaw(encode_mulaw(x)) - x)) < 0.02


def test_telephone_stereo_is_split_by_channel_and_resampled_to_16k() -> None:
    decoder = FrameDecoder(AudioFormat(8000, "mulaw", 2))
    left, right = _tone(1.0, 8000), np.zeros(8000, dtype=np.float32)
    frames = encode_mulaw(np.stack([left, right], axis=1).ravel())
    out = [decoder.decode(frames[i : i + 320]) for i in range(0, len(frames), 320)]
    n = sum(len(o[0]) for o in out)
    assert 14_500 < n <= 16_000  # the streaming resampler holds back ~65 ms
    assert np.abs(np.concatenate([o[1] for o in out])).max() < 0.01
    assert np.abs(np.concatenate([o[0] for o in out])).max() > 0.2


@pytest.mark.parametrize("size", [0, 3, 7])
def test_odd_frame_sizes_are_refused(size: int) -> None:
    decoder = FrameDecoder(AudioFormat(16000, "pcm16", 2))
    with pytest.raises(AudioFormatError, match="bytes"):
        decoder.decode(b"\x01" * size)
    assert len(decoder.decode(encode_pcm16(np.zeros(4, dtype=np.float32)))[0]) == 2


def test_unsupported_format_is_refused() -> None:
    with pytest.raises(AudioFormatError, match="sample_rate"):
        FrameDecoder(AudioFormat(44100, "pcm16", 1))


def test_silence_opens_no_utterance() -> None:
    tracker = UtteranceTracker(TrackerSettings())
    events = tracker.push(np.zeros(16_000 * 10, dtype=np.float32)) + tracker.flush()
    assert events == []


def test_stable_text_grows_only_when_two_windows_agree() -> None:
    stable = StableText()
    assert stable.update(0.0, "hola quiero") is None
    assert stable.update(0.0, "hola quiero saber") == "hola quiero"
    assert stable.update(0.0, "Hola, quiero saber cuánto") == "Hola, quiero saber"
    assert stable.update(2.0, "cuesta el plan") == "Hola, quiero saber cuánto"
