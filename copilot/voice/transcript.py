"""Transcribe a whole recording: VAD spans per channel, one decode per span, merged by time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from copilot.models.asr import SpeechRecognizer, choose_language
from copilot.voice.formats import TARGET_RATE, Samples
from copilot.voice.vad import speech_spans

_DETECT_S = 30.0

ChannelSpeaker = Literal["customer", "agent", "unknown"]


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of speech of one channel, to be decoded on its own."""

    speaker: ChannelSpeaker
    start_s: float
    audio: Samples


@dataclass(frozen=True, slots=True)
class TimedText:
    """A recognised segment of a recording; times in seconds from its start."""

    speaker: ChannelSpeaker
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class FileTranscript:
    """The transcript of a recording, segments ordered by start time."""

    language: str
    duration_s: float
    segments: tuple[TimedText, ...]


def channel_speakers(n_channels: int) -> tuple[ChannelSpeaker, ...]:
    """Who speaks on each channel: stereo calls are customer left, agent right; mono is mixed."""
    return ("customer", "agent") if n_channels >= 2 else ("unknown",)


def plan_spans(
    channels: list[Samples],
    threshold: float,
    min_silence_ms: int,
    pad_ms: int,
    max_span_s: float,
) -> list[Span]:
    """Cut each channel into speech spans (Silero VAD), ordered by start time."""
    spans: list[Span] = []
    for speaker, audio in zip(channel_speakers(len(channels)), channels, strict=False):
        for start, end in speech_spans(audio, threshold, min_silence_ms, pad_ms, max_span_s):
            spans.append(Span(speaker, start / TARGET_RATE, audio[start:end]))
    return sorted(spans, key=lambda s: s.start_s)


def pick_language(
    recognizer: SpeechRecognizer, spans: list[Span], threshold: float, default: str
) -> str:
    """Detect the language on up to 30 s of the first spans (es/en/pt), else ``default``."""
    if not spans:
        return default
    audio = np.concatenate([s.audio for s in spans])[: int(_DETECT_S * TARGET_RATE)]
    return choose_language(recognizer.detect_language(audio), threshold, default)


def decode_span(recognizer: SpeechRecognizer, span: Span, language: str) -> list[TimedText]:
    """Transcribe one span; segment times are shifted to the recording's clock."""
    result = recognizer.transcribe(span.audio, language)
    return [
        TimedText(
            span.speaker,
            round(span.start_s + seg.start_s, 2),
            round(span.start_s + seg.end_s, 2),
            seg.text,
        )
        for seg in result.segments
    ]


def transcribe_recording(
    recognizer: SpeechRecognizer,
    channels: list[Samples],
    language: str | None,
    *,
    threshold: float = 0.5,
    min_silence_ms: int = 500,
    pad_ms: int = 200,
    max_span_s: float = 20.0,
    language_threshold: float = 0.8,
    default_language: str = "es",
    progress: Callable[[int, int], None] | None = None,
) -> FileTranscript:
    """Transcribe a decoded recording (see `files.read_channels`).

    Args:
        recognizer: The speech recogniser.
        channels: 16 kHz float32 channels (``[mono]`` or ``[customer, agent]``).
        language: Forced language, or None to detect it (trusted above ``language_threshold``).
        threshold: Silero speech threshold.
        min_silence_ms: Silence that separates two spans.
        pad_ms: Audio kept around each span.
        max_span_s: Longest span decoded at once (Whisper's window is 30 s).
        language_threshold: See `choose_language`.
        default_language: Used when detection is not trusted.
        progress: Called with (spans done, spans total).

    Returns:
        The transcript; silence or noise gives no segments.
    """
    spans = plan_spans(channels, threshold, min_silence_ms, pad_ms, max_span_s)
    lang = language or pick_language(recognizer, spans, language_threshold, default_language)
    segments: list[TimedText] = []
    for done, span in enumerate(spans, start=1):
        segments.extend(decode_span(recognizer, span, lang))
        if progress is not None:
            progress(done, len(spans))
    duration = max((len(c) for c in channels), default=0) / TARGET_RATE
    ordered = tuple(sorted(segments, key=lambda s: (s.start_s, s.speaker)))
    return FileTranscript(lang, round(duration, 2), ordered)
