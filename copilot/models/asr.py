"""Speech-to-text behind one small interface; faster-whisper (CTranslate2, int8, CPU) serves it."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from copilot.errors import AudioFormatError, ModelNotFoundError
from copilot.models.loader import ModelSpec, force_offline

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
LANGUAGES = ("es", "en", "pt")
# faster-whisper's defaults: a window is silence when both hold.
_NO_SPEECH = 0.6
_LOW_LOGPROB = -1.0

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
class DecodeRequest:
    """One clip of a batched live decode (no timestamps: one segment spans the clip).

    Attributes:
        audio: 16 kHz mono float32 samples, at most 30 s.
        language: ISO 639-1 code, forced.
        beam_size: Beam width; None is the recogniser's configured beam.
        max_new_tokens: Upper bound on decoded tokens (bounds a looping decode).
    """

    audio: Audio
    language: str
    beam_size: int | None = None
    max_new_tokens: int | None = None


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

    def transcribe_batch(self, requests: Sequence[DecodeRequest]) -> list[Transcription]:
        """Transcribe several short clips in one batched decode, in order.

        Requests with the same beam and token bound share one encoder pass and one beam search.
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

    def __init__(
        self, folder: Path, threads: int = 2, beam_size: int = 5, context_s: float = 10.0
    ) -> None:
        """Load the model folder.

        Args:
            folder: A faster-whisper folder (``model.bin``, ``config.json``, tokenizer,
                vocabulary).
            threads: CPU threads of one decode.
            beam_size: Beam width (1 is greedy).
            context_s: Shortest window the encoder sees in `transcribe_batch` (30 is Whisper's
                own; the encoder's cost grows with it: 0.14 s for 10 s, 0.87 s for 30 s on two
                cores, at the same word error rate on the test speech).

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
                # Enough CTranslate2 workers to fill the cores: with 1 thread each, 2 decodes
                # at once finished in 0.48 s where 2 threads took 0.99 s for them in turn.
                num_workers=max(1, (os.cpu_count() or 1) // threads),
                local_files_only=True,
            )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelNotFoundError(
                f"ASR model folder {folder} could not be loaded: {exc}"
            ) from exc
        self.name = folder.name
        self._beam_size = beam_size
        self._context_s = context_s
        self._tokenizers: dict[str, Any] = {}
        from faster_whisper.transcribe import get_suppressed_tokens

        self._suppressed = list(get_suppressed_tokens(self._tokenizer("en"), [-1]))

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

    def transcribe_batch(self, requests: Sequence[DecodeRequest]) -> list[Transcription]:
        """See `SpeechRecognizer.transcribe_batch`.

        The same decoding as `transcribe` (temperature 0, ``no_repeat_ngram_size=3``, no
        conditioning, faster-whisper's no-speech rule) minus timestamps, which live text does
        not use, and with a shorter encoder window (``context_s`` or twice the longest clip,
        not 30 s): one clip is one window, so one encoder pass and one search serve the batch.
        """
        done: dict[int, Transcription] = {}
        groups: dict[tuple[int, int | None], list[int]] = {}
        for i, request in enumerate(requests):
            _check(request.audio)
            if len(request.audio) == 0:
                done[i] = Transcription("", (), request.language, 0.0)
                continue
            beam = request.beam_size or self._beam_size
            groups.setdefault((beam, request.max_new_tokens), []).append(i)
        for (beam, max_new_tokens), indices in groups.items():
            texts = self._decode_group([requests[i] for i in indices], beam, max_new_tokens)
            for i, text in zip(indices, texts, strict=True):
                request = requests[i]
                duration = len(request.audio) / SAMPLE_RATE
                parts = (SpeechSegment(0.0, round(duration, 2), text),) if text else ()
                done[i] = Transcription(text, parts, request.language, duration)
        return [done[i] for i in range(len(requests))]

    def _decode_group(
        self, requests: list[DecodeRequest], beam: int, max_new_tokens: int | None
    ) -> list[str]:
        model = self._model
        frames = _window_frames(self._context_s, max(len(r.audio) for r in requests))
        features = np.stack([_features(model, r.audio, frames) for r in requests])
        tokenizers = [self._tokenizer(r.language) for r in requests]
        prompts = [[*t.sot_sequence, t.no_timestamps] for t in tokenizers]
        limit = model.max_length
        if max_new_tokens is not None:
            limit = min(limit, len(prompts[0]) + max_new_tokens)
        results = model.model.generate(
            model.encode(features),
            prompts,
            beam_size=beam,
            max_length=limit,
            no_repeat_ngram_size=3,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
        )
        texts = []
        for tokenizer, result in zip(tokenizers, results, strict=True):
            tokens = result.sequences_ids[0]
            avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
            silent = result.no_speech_prob > _NO_SPEECH and avg_logprob < _LOW_LOGPROB
            texts.append("" if silent else tokenizer.decode(tokens).strip())
        return texts

    def _tokenizer(self, language: str) -> Any:  # faster-whisper is untyped
        if language not in self._tokenizers:
            from faster_whisper.tokenizer import Tokenizer

            self._tokenizers[language] = Tokenizer(
                self._model.hf_tokenizer, True, task="transcribe", language=language
            )
        return self._tokenizers[language]

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


def _window_frames(context_s: float, longest: int) -> int:
    """Mel frames (100 a second) the encoder sees: ``context_s``, or twice the longest clip.

    Whisper was trained on 30-s windows; a 3-s clip in a 6-s window came back said twice, in a
    10-s one it was right, so the clip never fills more than half the window.
    """
    full = 3000
    if context_s >= 30:
        return full
    seconds = max(context_s, math.ceil(2 * longest / SAMPLE_RATE))
    return min(full, int(seconds * 100))


def _features(model: Any, audio: Audio, frames: int) -> NDArray[np.float32]:
    """Log-mel features of a clip as `WhisperModel.transcribe` builds them, zero-padded."""
    mel = model.feature_extractor(audio)[:, :-1][:, :frames]
    return np.pad(mel, ((0, 0), (0, frames - mel.shape[1]))).astype(np.float32)


def _check(audio: Audio) -> None:
    if audio.ndim != 1 or audio.dtype != np.float32:
        raise AudioFormatError(f"expected mono float32 audio, got {audio.dtype} {audio.shape}")


def load_recognizer(
    spec: ModelSpec, folder: Path, threads: int, beam_size: int, context_s: float = 10.0
) -> WhisperRecognizer:
    """Load the recogniser of a spec from its (assembled or user-given) folder.

    Raises:
        ModelNotFoundError: The backend is not a speech backend or the folder cannot be loaded.
    """
    if spec.backend != "faster-whisper":
        raise ModelNotFoundError(f"model {spec.name!r}: backend {spec.backend!r} is not for ASR")
    logger.info("asr_loading name=%s folder=%s", spec.name, folder)
    return WhisperRecognizer(folder, threads, beam_size, context_s)
