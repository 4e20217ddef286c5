"""The caller side of the voice benchmark: espeak-ng calls streamed in real time, timed frames."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from websockets.asyncio.client import ClientConnection, connect

from copilot.voice.files import read_channels
from copilot.voice.formats import encode_pcm16

RATE = 16_000
FRAME_S = 0.02
FRAME_SAMPLES = int(RATE * FRAME_S)
GAP_S = 1.0  # between turns of a call
LEAD_S = 0.5  # silence before the first turn
TAIL_S = 1.5  # silence after the last turn
# espeak-ng voice and speed per language, as in tests/voice/conftest.py (understood by Whisper).
VOICES = {"en": ("en-us", 140), "es": ("es-419", 130), "pt": ("pt-br", 130)}
Samples = NDArray[np.float32]


@dataclass(frozen=True)
class Utterance:
    """One planned turn of a call: its leg and where its speech lies (seconds of the call)."""

    speaker: str
    start_s: float
    speech_end_s: float


@dataclass(frozen=True)
class CallScript:
    """A synthesised stereo call (customer left, agent right) and its planned utterances."""

    name: str
    client: str
    language: str
    audio: bytes
    duration_s: float
    utterances: tuple[Utterance, ...]


@dataclass
class CallLog:
    """What one streamed call observed, with ``time.perf_counter`` stamps."""

    frame_sent: list[float] = field(default_factory=list)
    finals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    interims: int = 0
    suggestions: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    max_send_lag_s: float = 0.0


def speak(text: str, language: str, folder: Path) -> Samples:
    """``text`` said by espeak-ng, 16 kHz mono float32, cached in ``folder``."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise SystemExit("espeak-ng is not installed (make system-deps)")
    voice, speed = VOICES[language]
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{abs(hash((text, language))):x}.wav"
    if not out.exists():
        subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    return read_channels(out)[0]


def _speech_end(clip: Samples) -> float:
    loud = np.flatnonzero(np.abs(clip) > 0.01)
    return (int(loud[-1]) + 1) / RATE if loud.size else 0.0


def build_call(conversation: dict[str, Any], n_customer: int, folder: Path) -> CallScript:
    """The conversation's turns, one after the other, up to its ``n_customer``-th customer turn."""
    language = conversation["language"]
    legs: dict[str, list[Samples]] = {"customer": [], "agent": []}
    utterances: list[Utterance] = []
    t = LEAD_S
    customers = 0
    for turn in conversation["turns"]:
        if customers >= n_customer:
            break
        clip = speak(turn["text"], language, folder)
        for speaker, parts in legs.items():
            gap = np.zeros(int((t - sum(len(p) for p in parts) / RATE) * RATE), dtype=np.float32)
            parts.append(gap)
            if speaker == turn["speaker"]:
                parts.append(clip)
        utterances.append(Utterance(turn["speaker"], t, t + _speech_end(clip)))
        t += len(clip) / RATE + GAP_S
        customers += turn["speaker"] == "customer"
    n = int((t - GAP_S + TAIL_S) * RATE)
    stereo = np.zeros((n, 2), dtype=np.float32)
    for column, speaker in enumerate(("customer", "agent")):
        leg = np.concatenate(legs[speaker])[:n]
        stereo[: len(leg), column] = leg
    return CallScript(
        conversation["conversation_id"],
        conversation["client"],
        language,
        encode_pcm16(stereo.ravel()),
        n / RATE,
        tuple(utterances),
    )


async def _read(ws: ClientConnection, log: CallLog, *, panel: bool) -> None:
    async for raw in ws:
        frame = json.loads(raw)
        kind = frame.get("type")
        now = time.perf_counter()
        if kind == "transcript" and not panel:
            if frame["final"]:
                log.finals.append((now, frame))
            else:
                log.interims += 1
        elif kind == "suggestions" and panel:
            log.suggestions.setdefault(frame["turn_id"], now)
        elif kind == "error":
            log.errors.append(str(frame.get("code")))
        if kind == "ack" and frame.get("detail") == "ended":
            return


async def stream_call(
    base: str, conversation_id: str, script: CallScript, suggestion_wait_s: float
) -> CallLog:
    """Stream ``script`` in real time as 20-ms stereo PCM16 frames and log what comes back.

    The panel (conversation stream) is connected first, as an agent's side panel would be; after
    ``end_audio`` is acknowledged (every final is out) it waits up to ``suggestion_wait_s`` for the
    suggestions of the customer finals still in flight.
    """
    log = CallLog()
    frame_bytes = FRAME_SAMPLES * 2 * 2
    start = {"agent_id": "bench-agent", "client": script.client, "language": script.language}
    async with (
        connect(f"{base}/v1/conversations/{conversation_id}/stream", proxy=None) as panel,
        connect(f"{base}/v1/conversations/{conversation_id}/audio", proxy=None) as call,
    ):
        await panel.send(json.dumps({"type": "start", **start}))
        await call.send(
            json.dumps({"type": "start_audio", "channels": ["customer", "agent"], **start})
        )
        panel_task = asyncio.create_task(_read(panel, log, panel=True))
        audio_reader = asyncio.create_task(_read(call, log, panel=False))
        await asyncio.sleep(0.2)  # both acks back before the first frame
        t0 = time.perf_counter()
        for n, i in enumerate(range(0, len(script.audio), frame_bytes)):
            due = t0 + n * FRAME_S
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await call.send(script.audio[i : i + frame_bytes])
            sent = time.perf_counter()
            log.frame_sent.append(sent)
            log.max_send_lag_s = max(log.max_send_lag_s, sent - due)
        await call.send(json.dumps({"type": "end_audio"}))
        await audio_reader
        customer = {f["utterance_id"] for _, f in log.finals if f["speaker"] == "customer"}
        deadline = time.perf_counter() + suggestion_wait_s
        while customer - set(log.suggestions) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        panel_task.cancel()
        await asyncio.gather(panel_task, return_exceptions=True)
    return log


def sent_at(log: CallLog, call_s: float) -> float:
    """When the frame holding second ``call_s`` of the call was sent (perf_counter)."""
    index = min(int(call_s / FRAME_S), len(log.frame_sent) - 1)
    return log.frame_sent[index]
