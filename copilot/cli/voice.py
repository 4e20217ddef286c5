"""Voice commands: ``copilot transcribe FILE`` and ``copilot demo call FILE``."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from copilot.errors import CopilotError
from copilot.models.registry import recognizer_from_settings
from copilot.privacy.redact import Redactor
from copilot.settings import Settings
from copilot.voice.files import read_channels
from copilot.voice.formats import encode_pcm16
from copilot.voice.transcript import FileTranscript, transcribe_recording

demo_app = typer.Typer(help="See the copilot work on demo input.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

_FRAME_S = 0.02


def _transcribe_file(
    settings: Settings, path: Path, language: str | None, show: bool
) -> FileTranscript:
    channels = read_channels(path)
    recognizer = recognizer_from_settings(settings)
    columns = (TextColumn("Transcribing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=not show) as bar:
        task = bar.add_task("spans", total=None)
        return transcribe_recording(
            recognizer,
            channels,
            language,
            threshold=settings.asr_vad_threshold,
            min_silence_ms=settings.asr_min_silence_ms,
            pad_ms=settings.asr_speech_pad_ms,
            max_span_s=settings.asr_max_utterance_s,
            language_threshold=settings.asr_language_threshold,
            default_language=settings.default_language,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def transcribe(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="Recording (WAV, MP3, OGG…); stereo: customer left.")
    ],
    language: Annotated[
        str | None,
        typer.Option(help="es, en or pt (default: detected, else COPILOT_DEFAULT_LANGUAGE)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Do not mask personal data.")] = False,
) -> None:
    """Transcribe a recorded call on this machine, with timestamps and speakers."""
    settings: Settings = ctx.obj
    try:
        result = _transcribe_file(settings, file, language, show=not as_json)
    except CopilotError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    redactor = Redactor()
    segments = [
        {**asdict(s), "text": s.text if raw else redactor.redact(s.text).text}
        for s in result.segments
    ]
    if as_json:
        body = {"language": result.language, "duration_s": result.duration_s, "segments": segments}
        sys.stdout.write(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
        return
    out.print(f"language {result.language}, {result.duration_s:.1f} s")
    for s in segments:
        out.print(f"[{s['start_s']:7.2f} - {s['end_s']:7.2f}] [bold]{s['speaker']}[/]: {s['text']}")


async def _stream_call(
    url: str,
    conversation_id: str,
    agent_id: str,
    client: str | None,
    language: str | None,
    audio: bytes,
    bytes_per_frame: int,
) -> None:
    import websockets

    base = url.rstrip("/")
    async with (
        websockets.connect(f"{base}/v1/conversations/{conversation_id}/stream") as panel,
        websockets.connect(f"{base}/v1/conversations/{conversation_id}/audio") as call,
    ):
        await panel.send(
            json.dumps(
                {"type": "start", "agent_id": agent_id, "client": client, "language": language}
            )
        )
        await call.send(
            json.dumps(
                {
                    "type": "start_audio",
                    "agent_id": agent_id,
                    "client": client,
                    "language": language,
                    "channels": ["customer", "agent"],
                }
            )
        )

        async def show(ws: Any, label: str) -> None:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "transcript":
                    mark = "final" if frame["final"] else "…"
                    out.print(f"[dim]{label}[/] {frame['speaker']:>8} {mark:>5}: {frame['text']}")
                elif kind == "suggestions":
                    for s in frame["suggestions"]:
                        docs = ", ".join(e["doc_id"] for e in s["evidence"])
                        out.print(f"[green]suggestion[/] ({s['kind']}, {docs}): {s['text']}")
                elif kind == "error":
                    out.print(f"[red]error[/] {frame['code']}: {frame['message']}")

        readers = [
            asyncio.create_task(show(call, "audio")),
            asyncio.create_task(show(panel, "panel")),
        ]
        started = time.monotonic()
        for n, i in enumerate(range(0, len(audio), bytes_per_frame)):
            await call.send(audio[i : i + bytes_per_frame])
            delay = started + (n + 1) * _FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await call.send(json.dumps({"type": "end_audio"}))
        await readers[0]
        await asyncio.sleep(3.0)  # the last suggestions may still be on their way
        readers[1].cancel()


@demo_app.command("call")
def demo_call(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Stereo recording: customer left, agent right.")],
    url: Annotated[str, typer.Option(help="Running service.")] = "ws://127.0.0.1:8000",
    conversation_id: Annotated[str | None, typer.Option(help="Default: demo-call-<time>.")] = None,
    agent_id: Annotated[str, typer.Option(help="Agent of the call.")] = "agent-demo",
    client: Annotated[str | None, typer.Option(help="KB client (telecom, bank, retail).")] = None,
    language: Annotated[str | None, typer.Option(help="es, en or pt.")] = None,
) -> None:
    """Stream a recorded stereo call in real time (20-ms PCM16 frames) to a running service and
    print the live transcript and the suggestions."""
    try:
        channels = read_channels(file)
    except CopilotError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    left = channels[0]
    right = channels[1] if len(channels) > 1 else np.zeros_like(left)
    audio = encode_pcm16(np.stack([left, right], axis=1).ravel())
    cid = conversation_id or f"demo-call-{int(time.time())}"
    err.print(f"streaming {len(left) / 16_000:.1f} s to {url} as conversation {cid}")
    asyncio.run(
        _stream_call(url, cid, agent_id, client, language, audio, int(16_000 * _FRAME_S) * 4)
    )
