"""`VoiceService`: live calls and recorded-call transcription over one shared recogniser."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

import anyio.to_thread

from copilot.domain import Speaker
from copilot.errors import NotStartedError
from copilot.models.asr import SpeechRecognizer
from copilot.privacy.redact import Redactor
from copilot.service.asr_scheduler import AsrScheduler, Priority
from copilot.service.assist import AssistService
from copilot.service.call import LiveCall, Notify
from copilot.service.metrics import ServiceMetrics
from copilot.settings import Settings
from copilot.voice.formats import AudioFormat, Samples
from copilot.voice.recording import CallRecorder, purge_recordings
from copilot.voice.transcript import (
    FileTranscript,
    Span,
    TimedText,
    decode_span,
    pick_language,
    plan_spans,
)

logger = logging.getLogger(__name__)


class VoiceService:
    """Opens live calls and transcribes recordings; the recogniser loads on first use."""

    def __init__(
        self,
        assist: AssistService,
        settings: Settings,
        metrics: ServiceMetrics,
        load: Callable[[], SpeechRecognizer],
        redactor: Redactor,
    ) -> None:
        self._assist = assist
        self._settings = settings
        self._metrics = metrics
        self._redactor = redactor
        self.scheduler = AsrScheduler(
            load,
            settings.asr_workers,
            metrics,
            settings.asr_step_s,
            max_batch=settings.asr_max_batch,
            hold_s=settings.asr_min_silence_ms / 1000 + 0.2,
        )

    async def open_call(
        self,
        conversation_id: str,
        fmt: AudioFormat,
        speakers: list[Speaker],
        language: str | None,
        notify: Notify,
    ) -> LiveCall:
        """A started `LiveCall` for one audio stream of a live conversation.

        The call language is ``language``, else the conversation's, else detected per utterance
        (trusted only above ``asr_language_threshold``).

        Raises:
            AudioFormatError: The format is not supported.
            NotStartedError: The conversation is not live.
        """
        info = await self._assist.store.info(conversation_id)
        if info is None:
            raise NotStartedError(f"conversation {conversation_id} has not been started")
        recorder = None
        if self._settings.keep_audio:
            folder = self._settings.data_dir / "audio"
            purge_recordings(folder, self._settings.audio_retention_days)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            recorder = CallRecorder(folder / f"{conversation_id}-{stamp}.wav", len(speakers))
        call = LiveCall(
            conversation_id,
            fmt,
            speakers,
            language or info.language,
            assist=self._assist,
            scheduler=self.scheduler,
            settings=self._settings,
            metrics=self._metrics,
            redactor=self._redactor,
            notify=notify,
            recorder=recorder,
        )
        call.start()
        return call

    async def transcribe(self, channels: list[Samples], language: str | None) -> FileTranscript:
        """Transcribe a decoded recording, span by span at the lowest priority (live calls first).

        The text of every segment is redacted.
        """
        s = self._settings
        spans = await anyio.to_thread.run_sync(
            plan_spans,
            channels,
            s.asr_vad_threshold,
            s.asr_min_silence_ms,
            s.asr_speech_pad_ms,
            s.asr_max_utterance_s,
        )
        lang = language
        if lang is None:
            work = partial(
                _pick, spans=spans, threshold=s.asr_language_threshold, default=s.default_language
            )
            lang = await self.scheduler.run(Priority.FILE, work) or s.default_language
        decoded = await asyncio.gather(
            *(
                self.scheduler.run(Priority.FILE, partial(_decode, span=span, language=lang))
                for span in spans
            )
        )
        segments = sorted(
            (
                TimedText(t.speaker, t.start_s, t.end_s, self._redactor.redact(t.text).text)
                for part in decoded
                for t in part or []
            ),
            key=lambda t: (t.start_s, t.speaker),
        )
        duration = max((len(c) for c in channels), default=0) / 16_000
        return FileTranscript(lang, round(duration, 2), tuple(segments))


def _pick(
    recognizer: SpeechRecognizer, *, spans: list[Span], threshold: float, default: str
) -> str:
    return pick_language(recognizer, spans, threshold, default)


def _decode(recognizer: SpeechRecognizer, *, span: Span, language: str) -> list[TimedText]:
    return decode_span(recognizer, span, language)
