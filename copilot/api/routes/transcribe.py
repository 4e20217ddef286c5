"""``POST /v1/transcribe``: the transcript of a recorded call, with timestamps and speakers."""

from __future__ import annotations

import io
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, File, Form, UploadFile

from copilot.api.auth import AgentDep
from copilot.api.deps import StateDep
from copilot.api.schemas import Language, TranscriptOut, TranscriptSegmentOut
from copilot.errors import FrameTooLargeError, NotStartedError
from copilot.voice.files import read_channels

router = APIRouter(prefix="/v1", tags=["voice"])
_READ_BLOCK = 1024 * 1024


@router.post("/transcribe")
async def transcribe(
    state: StateDep,
    principal: AgentDep,
    file: Annotated[
        UploadFile, File(description="WAV, MP3, OGG… (stereo: customer left, agent right).")
    ],
    language: Annotated[
        Language | None, Form(description="Forced language; else detected.")
    ] = None,
) -> TranscriptOut:
    """Transcribe an uploaded recording (redacted text); live calls keep priority on the CPU.

    413 ``frame_too_large`` over ``COPILOT_TRANSCRIBE_MAX_BYTES``, 415 ``invalid_audio`` for a
    file that is not audio.
    """
    voice = state.voice
    if voice is None:
        raise NotStartedError("voice is disabled on this service (COPILOT_ASR_ENABLED)")
    limit = state.settings.transcribe_max_bytes
    buffer = io.BytesIO()
    while block := await file.read(_READ_BLOCK):
        buffer.write(block)
        if buffer.tell() > limit:
            raise FrameTooLargeError(f"upload over {limit} bytes")
    buffer.seek(0)
    channels = await anyio.to_thread.run_sync(read_channels, buffer)
    result = await voice.transcribe(channels, language)
    return TranscriptOut(
        language=result.language,
        duration_s=result.duration_s,
        segments=[
            TranscriptSegmentOut(
                speaker=s.speaker,
                start_s=s.start_s,
                end_s=s.end_s,
                text=s.text,
            )
            for s in result.segments
        ],
    )
