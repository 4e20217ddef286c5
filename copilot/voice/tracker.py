"""Cut one speaker's live audio into utterances, and say when an interim window is due."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from copilot.voice.formats import TARGET_RATE, Samples
from copilot.voice.vad import CHUNK, StreamingVad


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    """Thresholds of the utterance tracker (see the ``asr_*`` fields of `Settings`).

    Attributes:
        threshold: Silero probability at or above which a chunk is speech.
        min_silence_s: Silence that ends an utterance.
        min_speech_s: Shorter utterances (clicks, coughs) are dropped.
        pad_s: Audio kept before the first and after the last speech chunk.
        max_utterance_s: A longer utterance is cut and a new one starts.
        window_s: Longest interim window.
        step_s: Seconds of speech between interim windows.
    """

    threshold: float = 0.5
    min_silence_s: float = 0.5
    min_speech_s: float = 0.25
    pad_s: float = 0.2
    max_utterance_s: float = 20.0
    window_s: float = 6.0
    step_s: float = 2.0


@dataclass(frozen=True, slots=True)
class WindowDue:
    """Re-transcribe the current utterance from ``anchor_s`` to ``end_s`` (seconds of the leg)."""

    index: int
    start_s: float
    anchor_s: float
    end_s: float
    audio: Samples


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """A finished utterance: transcribe all of it for the final text."""

    index: int
    start_s: float
    end_s: float
    speech_end_s: float
    audio: Samples


TrackerEvent = WindowDue | UtteranceEnded


def _s(samples: int) -> float:
    return round(samples / TARGET_RATE, 3)


class UtteranceTracker:
    """Voice activity state machine of one leg: audio in, `WindowDue` and `UtteranceEnded` out.

    Interim windows are anchored: each covers the utterance from an anchor to now, so two in a row
    can be compared word by word; once a window would exceed ``window_s`` the anchor moves to the
    end of the previous window (that text is then settled). Positions are sample counts since the
    leg began.
    """

    def __init__(self, settings: TrackerSettings) -> None:
        self._cfg = settings
        self._vad = StreamingVad()
        self._neg = max(settings.threshold - 0.15, 0.01)
        self._pad = int(settings.pad_s * TARGET_RATE)
        self._audio = np.zeros(0, dtype=np.float32)  # from self._base on
        self._base = 0  # sample position of self._audio[0]
        self._scored = 0  # samples scored by the VAD so far
        self._start: int | None = None  # utterance start (with pad), None in silence
        self._silence = 0
        self._last_speech = 0
        self._anchor = 0
        self._last_window = 0
        self._index = 0

    @property
    def position_s(self) -> float:
        """Seconds of this leg scored by the VAD so far."""
        return _s(self._scored)

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is open."""
        return self._start is not None

    @property
    def utterance(self) -> int:
        """Index of the open (or next) utterance of this leg."""
        return self._index

    @property
    def quiet_s(self) -> float:
        """Seconds of silence so far inside the open utterance (0 in speech or between them)."""
        return _s(self._silence) if self._start is not None else 0.0

    def push(self, samples: Samples) -> list[TrackerEvent]:
        """Add audio; returns what became due, in order."""
        self._audio = np.concatenate([self._audio, samples])
        events: list[TrackerEvent] = []
        for prob in self._vad.feed(samples):
            self._scored += CHUNK
            self._score(float(prob), events)
        if self._start is None:
            keep = max(0, self._base + len(self._audio) - self._pad - 2 * CHUNK)
            self._trim(keep)
        return events

    def flush(self) -> list[TrackerEvent]:
        """End the open utterance now (end of the stream)."""
        events: list[TrackerEvent] = []
        if self._start is not None:
            self._end(self._last_speech, events)
        return events

    def _score(self, prob: float, events: list[TrackerEvent]) -> None:
        cfg = self._cfg
        chunk_end = self._scored
        if self._start is None:
            if prob >= cfg.threshold:
                self._start = max(self._base, chunk_end - CHUNK - self._pad)
                self._anchor = self._last_window = self._start
                self._silence = 0
                self._last_speech = chunk_end
            return
        if prob >= cfg.threshold:
            self._silence = 0
            self._last_speech = chunk_end
        elif prob < self._neg or self._silence:
            self._silence += CHUNK
        else:
            self._last_speech = chunk_end
        if self._silence >= cfg.min_silence_s * TARGET_RATE:
            self._end(self._last_speech, events)
            return
        if chunk_end - self._start >= cfg.max_utterance_s * TARGET_RATE:
            self._end(chunk_end, events)
            self._start = self._anchor = self._last_window = chunk_end
            self._last_speech = chunk_end
            return
        if self._silence == 0 and chunk_end - self._last_window >= cfg.step_s * TARGET_RATE:
            if chunk_end - self._anchor > cfg.window_s * TARGET_RATE:
                self._anchor = self._last_window
            self._last_window = chunk_end
            audio = self._slice(self._anchor, chunk_end)
            events.append(
                WindowDue(self._index, _s(self._start), _s(self._anchor), _s(chunk_end), audio)
            )

    def _end(self, speech_end: int, events: list[TrackerEvent]) -> None:
        start = self._start
        assert start is not None
        self._start = None
        self._silence = 0
        end = min(speech_end + self._pad, self._base + len(self._audio))
        if speech_end - start - self._pad >= self._cfg.min_speech_s * TARGET_RATE:
            audio = self._slice(start, end)
            events.append(UtteranceEnded(self._index, _s(start), _s(end), _s(speech_end), audio))
            self._index += 1
        self._trim(max(self._base, end - self._pad))

    def _slice(self, start: int, end: int) -> Samples:
        return self._audio[start - self._base : end - self._base].copy()

    def _trim(self, keep_from: int) -> None:
        if keep_from > self._base:
            self._audio = self._audio[keep_from - self._base :]
            self._base = keep_from
