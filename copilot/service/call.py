"""`LiveCall`: one audio stream of a call, from frames to transcripts and assisted turns."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from copilot.domain import Speaker
from copilot.errors import CopilotError, StorageError
from copilot.models.asr import (
    Audio,
    DecodeRequest,
    LanguageGuess,
    SpeechRecognizer,
    choose_language,
)
from copilot.privacy.redact import Redactor
from copilot.service.asr_scheduler import AsrScheduler, Priority
from copilot.service.assist import AssistService
from copilot.service.events import TranscriptUpdate
from copilot.service.metrics import ServiceMetrics
from copilot.settings import Settings
from copilot.voice.formats import AudioFormat, FrameDecoder
from copilot.voice.recording import CallRecorder
from copilot.voice.stable import StableText
from copilot.voice.tracker import (
    TrackerSettings,
    UtteranceEnded,
    UtteranceTracker,
    WindowDue,
)

logger = logging.getLogger(__name__)

Notify = Callable[[TranscriptUpdate], Awaitable[None]]
_MIN_DETECT_S = 1.0
_IMMINENT_S = 0.1
"""This much silence inside an utterance holds interim decodes back: its final may follow."""


def tracker_settings(settings: Settings) -> TrackerSettings:
    """The utterance tracker's thresholds from the ``asr_*`` settings."""
    return TrackerSettings(
        threshold=settings.asr_vad_threshold,
        min_silence_s=settings.asr_min_silence_ms / 1000,
        min_speech_s=settings.asr_min_speech_ms / 1000,
        pad_s=settings.asr_speech_pad_ms / 1000,
        max_utterance_s=settings.asr_max_utterance_s,
        window_s=settings.asr_window_s,
        step_s=settings.asr_step_s,
    )


@dataclass(slots=True)
class _Leg:
    number: int
    speaker: Speaker
    tracker: UtteranceTracker
    stable: dict[int, StableText] = field(default_factory=dict)
    finalised: int = 0  # utterances below this index have their final text
    ending: bool = False  # told the scheduler a final may come any moment

    def wants_window(self, index: int) -> bool:
        """Whether an interim window of utterance ``index`` is still worth decoding."""
        t = self.tracker
        return t.in_speech and t.utterance == index and t.quiet_s < _IMMINENT_S


class LiveCall:
    """One audio stream (one or two legs) of a live call.

    Frames are decoded and scored by the VAD on the event loop (well under 1 ms per 20-ms frame);
    decodes go through the shared `AsrScheduler`. Each final customer utterance becomes a turn of
    `AssistService.turn`, exactly like a chat turn (its suggestions reach every listener); agent
    utterances are logged as agent turns. Transcript text is redacted before it leaves.
    """

    def __init__(
        self,
        conversation_id: str,
        fmt: AudioFormat,
        speakers: list[Speaker],
        language: str | None,
        *,
        assist: AssistService,
        scheduler: AsrScheduler,
        settings: Settings,
        metrics: ServiceMetrics,
        redactor: Redactor,
        notify: Notify,
        recorder: CallRecorder | None = None,
    ) -> None:
        """Prepare the legs; nothing runs until `start`.

        Raises:
            AudioFormatError: The format is not supported.
        """
        self.conversation_id = conversation_id
        self.call_id = secrets.token_hex(3)
        self._decoder = FrameDecoder(fmt)
        cfg = tracker_settings(settings)
        self._legs = [_Leg(n, s, UtteranceTracker(cfg)) for n, s in enumerate(speakers)]
        self.language = language
        self._assist = assist
        self._scheduler = scheduler
        self._settings = settings
        self._metrics = metrics
        self._redactor = redactor
        self._notify = notify
        self._recorder = recorder
        self._finals: asyncio.Queue[tuple[_Leg, UtteranceEnded, float] | None] = asyncio.Queue()
        self._interims: set[asyncio.Task[None]] = set()
        self._turns: set[asyncio.Task[None]] = set()
        self._finals_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task that turns finished utterances into final transcripts and turns."""
        self._finals_task = asyncio.create_task(self._finals_loop())

    def feed(self, frame: bytes) -> None:
        """Take one binary frame of audio (all legs interleaved as declared).

        Raises:
            AudioFormatError: The frame is not a whole number of samples; it is dropped.
        """
        channels = self._decoder.decode(frame)
        if self._recorder is not None:
            self._recorder.write(channels)
        for leg, samples in zip(self._legs, channels, strict=True):
            for event in leg.tracker.push(samples):
                self._on_event(leg, event)
            self._expect(leg, leg.tracker.quiet_s >= _IMMINENT_S)

    async def finish(self) -> None:
        """End every open utterance and wait until their finals (and turns) are out."""
        for leg in self._legs:
            for event in leg.tracker.flush():
                self._on_event(leg, event)
            self._expect(leg, False)
        await self._finals.put(None)
        if self._finals_task is not None:
            await self._finals_task
        for task in list(self._interims):
            task.cancel()
        await asyncio.gather(*self._interims, *self._turns, return_exceptions=True)
        if self._recorder is not None:
            self._recorder.close()

    def _expect(self, leg: _Leg, ending: bool) -> None:
        if ending != leg.ending:
            leg.ending = ending
            self._scheduler.expect_final((self.call_id, leg.number), ending)

    def _on_event(self, leg: _Leg, event: WindowDue | UtteranceEnded) -> None:
        if isinstance(event, UtteranceEnded):
            lag = leg.tracker.position_s - event.speech_end_s
            self._finals.put_nowait((leg, event, time.monotonic() - lag))
            return
        task = asyncio.create_task(self._interim(leg, event))
        self._interims.add(task)
        task.add_done_callback(self._interims.discard)

    def _utterance_id(self, leg: _Leg, index: int) -> str:
        return f"v{self.call_id}-{leg.speaker.value}-{index}"

    async def _language(self, audio: Audio, priority: Priority) -> str:
        """The call's language; detected on this clip (one encoder pass) until trusted."""
        if self.language is not None:
            return self.language
        fallback = self._settings.default_language
        if len(audio) < _MIN_DETECT_S * 16_000:
            return fallback
        guess = await self._scheduler.run(priority, partial(_detect, audio))
        if guess is None:
            return fallback
        language = choose_language(guess, self._settings.asr_language_threshold, fallback)
        if language == guess.language:
            self.language = language  # trusted: keep it for the rest of the call
        return language

    async def _interim(self, leg: _Leg, window: WindowDue) -> None:
        s = self._settings
        request = DecodeRequest(
            window.audio,
            await self._language(window.audio, Priority.INTERIM),
            s.asr_window_beam_size,
            s.asr_window_max_new_tokens,
        )
        result = await self._scheduler.decode(
            Priority.INTERIM,
            request,
            key=(self.call_id, leg.number),
            wanted=partial(leg.wants_window, window.index),
        )
        if result is None or window.index < leg.finalised:
            return
        stable = leg.stable.setdefault(window.index, StableText())
        text = stable.update(window.anchor_s, result.text)
        if text is None:
            return
        await self._emit(
            TranscriptUpdate(
                self._utterance_id(leg, window.index),
                leg.speaker,
                self._redactor.redact(text).text,
                False,
                window.start_s,
                window.end_s,
            )
        )

    async def _finals_loop(self) -> None:
        while (item := await self._finals.get()) is not None:
            leg, utterance, speech_end = item
            try:
                await self._final(leg, utterance, speech_end)
            except CopilotError as exc:
                logger.warning(
                    "final_failed conversation_id=%s error=%s", self.conversation_id, exc
                )
            except Exception:  # one bad utterance must not end the call's finals
                logger.exception("final_failed conversation_id=%s", self.conversation_id)

    async def _final(self, leg: _Leg, utterance: UtteranceEnded, speech_end: float) -> None:
        priority = Priority.FINAL if leg.speaker is Speaker.CUSTOMER else Priority.AGENT_FINAL
        language = await self._language(utterance.audio, priority)
        result = await self._scheduler.decode(priority, DecodeRequest(utterance.audio, language))
        assert result is not None  # finals are never skipped
        leg.finalised = utterance.index + 1
        leg.stable.pop(utterance.index, None)
        self._metrics.asr_final_delay.observe(max(0.0, time.monotonic() - speech_end))
        utterance_id = self._utterance_id(leg, utterance.index)
        text = result.text[: self._settings.max_turn_chars]
        await self._emit(
            TranscriptUpdate(
                utterance_id,
                leg.speaker,
                self._redactor.redact(text).text,
                True,
                utterance.start_s,
                utterance.end_s,
            )
        )
        logger.info(
            "utterance_final conversation_id=%s utterance_id=%s chars=%d audio_s=%.2f",
            self.conversation_id,
            utterance_id,
            len(text),
            len(utterance.audio) / 16_000,
        )
        if text:
            # Customer and agent turns alike: the service logs both, suggests for the customer.
            task = asyncio.create_task(self._turn(utterance_id, leg.speaker, text))
            self._turns.add(task)
            task.add_done_callback(self._turns.discard)

    async def _turn(self, utterance_id: str, speaker: Speaker, text: str) -> None:
        """Log (and assist) one transcribed turn, waiting out a database outage.

        A chat client retries a turn answered 503; a transcribed turn has no client, so it is
        retried here with backoff for up to ``voice_turn_retry_s`` (the turn write is idempotent
        on its id) and only then given up with an error line.
        """
        delay, deadline = 0.5, time.monotonic() + self._settings.voice_turn_retry_s
        while True:
            try:
                await self._assist.turn(self.conversation_id, utterance_id, speaker, text)
                return
            except StorageError:
                if time.monotonic() + delay > deadline:
                    logger.error(
                        "voice_turn_lost conversation_id=%s turn_id=%s after_s=%.0f",
                        self.conversation_id,
                        utterance_id,
                        self._settings.voice_turn_retry_s,
                    )
                    return
                logger.warning(
                    "voice_turn_retry conversation_id=%s turn_id=%s in_s=%.1f",
                    self.conversation_id,
                    utterance_id,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except CopilotError as exc:
                logger.warning(
                    "voice_turn_failed conversation_id=%s turn_id=%s error=%s",
                    self.conversation_id,
                    utterance_id,
                    type(exc).__name__,
                )
                return

    async def _emit(self, update: TranscriptUpdate) -> None:
        await self._notify(update)
        await self._assist.bus.publish(self.conversation_id, update)


def _detect(audio: Audio, recognizer: SpeechRecognizer) -> LanguageGuess:
    return recognizer.detect_language(audio)
