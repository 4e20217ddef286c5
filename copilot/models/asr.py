"""Speech-to-text behind one small interface; faster-whisper (CTranslate2, int8, CPU) serves it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from copilot.errors import AudioFormatError, ModelNotFoundError
from copilot.models.loader import ModelSpec, force_offline

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
LANGUAGES = ("es", "en", "pt")

Audio = NDArray[np.float32]
"""Mono speech at 16 kHz, float32 in [-1, 1], shape ``(n_samples,)``."""


@dataclass(frozen=True, slots=True)
class SpeechSegment:
    """A stretch of recognised speech; times in seconds from the start of the audio given."""

    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcription:
    """What a recogniser heard in one clip."""

    text: str
    segments: tuple[SpeechSegment, ...]
    language: str
    duration_s: float


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """The most likely of the allowed languages and its share of their total probability."""

    language: str
    probability: float


class SpeechRecognizer(Protocol):
    """Turns 16 kHz mono audio into text; implementations must be safe to call from threads."""

    name: str

    def transcribe(
        self, audio: Audio, language: str, max_new_tokens: int | None = None
    ) -> Transcription:
        """Transcribe a clip in a known language.

        Args:
            audio: 16 kHz mono float32 samples.
            language: ISO 639-1 code, forced (no detection).
            max_new_tokens: Upper bound on decoded tokens per 30-s chunk (bounds a looping decode).
        """
        ...

    def detect_language(self, audio: Audio) -> LanguageGuess:
        """Guess the language of a clip among ``LANGUAGES``."""
        ...


def choose_language(guess: LanguageGuess, threshold: float, default: str) -> str:
    """The guessed language when its probability reaches ``threshold``, else ``default``."""
    return guess.language if guess.probability >= threshold else default


class WhisperRecognizer:
    """Whisper through faster-whisper, int8 on CPU.

    Decoding is deterministic (``temperature=0.0``: the fallback ladder re-decoded hard clips up to
    six times) with ``no_repeat_ngram_size=3`` (beam search otherwise looped on "ni ni ni…"), and
    without conditioning on earlier text, so one bad chunk does not poison the next.
    """

    def __init__(self, folder: Path, threads: int = 2, beam_size: int = 5) -> None:
        """Load the model folder.

        Args:
            folder: A faster-whisper folder (``model.bin``, ``config.json``, tokenizer,
                vocabulary).
            threads: CPU threads of one decode.
            beam_size: Beam width (1 is greedy).

        Raises:
            ModelNotFoundError: The folder cannot be loaded.
        """
        force_offline()
        from faster_whisper import WhisperModel

        try:
            self._model = WhisperModel(
                str(folder),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                local_files_only=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelNotFoundError(
                f"ASR model folder {folder} could not be loaded: {exc}"
            ) from exc
        self.name = folder.name
        self._beam_size = beam_size

    def transcribe(
        self, audio: Audio, language: str, max_new_tokens: int | None = None
    ) -> Transcription:
        """See `SpeechRecognizer.transcribe`."""
        _check(audio)
        duration = len(audio) / SAMPLE_RATE
        if len(audio) == 0:
            return Transcription("", (), language, 0.0)
        segments, _info = self._model.transcribe(
            audio,
            language=language,
            beam_size=self._beam_size,
            temperature=0.0,
            no_repeat_ngram_size=3,
            condition_on_previous_text=False,
            max_new_tokens=max_new_tokens,
        )
        parts = tuple(
            SpeechSegment(round(s.start, 2), round(min(s.end, duration), 2), s.text.strip())
            for s in segments
            if s.text.strip()
        )
        return Transcription(" ".join(p.text for p in parts), parts, language, duration)

    def detect_language(self, audio: Audio) -> LanguageGuess:
        """See `SpeechRecognizer.detect_language`; Whisper's scores renormalised over es/en/pt."""
        _check(audio)
        _lang, _p, ranked = self._model.detect_language(audio)
        allowed = {code: p for code, p in ranked if code in LANGUAGES}
        total = sum(allowed.values())
        if total <= 0:
            return LanguageGuess(LANGUAGES[0], 0.0)
        best = max(allowed, key=lambda code: allowed[code])
        return LanguageGuess(best, allowed[best] / total)


def _check(audio: Audio) -> None:
    if audio.ndim != 1 or audio.dtype != np.float32:
        raise AudioFormatError(f"expected mono float32 audio, got {audio.dtype} {audio.shape}")


def load_recognizer(
    spec: ModelSpec, folder: Path, threads: int, beam_size: int
) -> WhisperRecognizer:
    """Load the recogniser of a spec from its (assembled or user-given) folder.

    Raises:
        ModelNotFoundError: The backend is not a speech backend or the folder cannot be loaded.
    """
    if spec.backend != "faster-whisper":
        raise ModelNotFoundError(f"model {spec.name!r}: backend {spec.backend!r} is not for ASR")
    logger.info("asr_loading name=%s folder=%s", spec.name, folder)
    return WhisperRecognizer(folder, threads, beam_size)
