"""Where one live speech decode spends its time: features, encoder, decoder, batch and threads.

Whisper base int8 (the manifest's ``asr`` model, assembled as the service does) on espeak-ng clips
of ``tests/voice/conftest.UTTERANCES``-like sentences (~3 s each). For each thread count it times,
as the median of ``--repeat`` runs:

* log-mel features of one clip;
* the encoder on a batch of 1, 2 and 4 clips (each padded to Whisper's 30-s window);
* the decoder (``generate``) on those encodings, beam 5 and beam 1, with and without timestamps;
* ``WhisperRecognizer.transcribe`` (the file path: timestamps, faster-whisper's loop) and
  ``transcribe_batch`` (the live path) of 1, 2 and 4 clips;
* two decodes at once in two Python threads (``workers=2``, ``threads=1``) against one after the
  other with 2 threads;
* Silero VAD on 1 s of audio (the event loop's share);
* endpointing: how late after the end of speech the live tracker cuts an utterance, and whether
  it cuts more utterances than were spoken, per end-of-utterance silence (VAD only).

Writes ``benchmarks/results/asr_profile-<YYYYmmdd-HHMMSS>.json``. Run on a quiet box::

    .venv/bin/python benchmarks/asr_profile.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from asr_calls import speak  # sibling module
from provenance import git_commit, git_dirty, hardware, write_result

from copilot.models.asr import DecodeRequest, WhisperRecognizer
from copilot.models.registry import asr_folder, asr_spec_from_settings
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CLIPS = {
    "en": "How much does roaming cost when I travel abroad?",
    "es": "Quiero saber cuánto cuesta el roaming en el plan básico.",
    "pt": "Gostaria de trocar um produto com defeito.",
    "en2": "I was charged twice for my subscription.",
}


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeat`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def profile_threads(folder: Path, threads: int, clips: list[Any], repeat: int) -> dict[str, Any]:
    """Every timing of the module docstring with ``threads`` CPU threads per decode."""
    rec = WhisperRecognizer(folder, threads=threads, beam_size=5)
    model = rec._model  # the profile reaches under the interface on purpose
    frames = model.feature_extractor.nb_max_frames
    tokenizer = rec._tokenizer("en")
    out: dict[str, Any] = {"threads": threads}
    out["features_s"] = timed(lambda: model.feature_extractor(clips[0]), repeat)

    def feats(n: int) -> Any:
        mel = [model.feature_extractor(c)[:, :-1] for c in clips[:n]]
        return np.stack([np.pad(m, ((0, 0), (0, frames - m.shape[1]))) for m in mel])

    for n in (1, 2, 4):
        batch = feats(n)
        out[f"encode_b{n}_s"] = timed(partial(model.encode, batch), repeat)
        encoded = model.encode(batch)
        for beam in (5, 1):
            for stamps in (True, False):
                tail = [] if stamps else [tokenizer.no_timestamps]
                prompt = [*tokenizer.sot_sequence, *tail]
                key = f"generate_b{n}_beam{beam}_{'ts' if stamps else 'nots'}_s"
                generate = partial(
                    model.model.generate,
                    encoded,
                    [prompt] * n,
                    beam_size=beam,
                    no_repeat_ngram_size=3,
                    return_no_speech_prob=True,
                )
                out[key] = timed(generate, repeat)
    out["short_context"] = short_context(model, tokenizer, clips, repeat)
    out["transcribe_b1_s"] = timed(partial(rec.transcribe, clips[0], "en"), repeat)
    for n in (1, 2, 4):
        for beam in (5, 1):
            requests = [DecodeRequest(c, "en", beam) for c in clips[:n]]
            run = partial(rec.transcribe_batch, requests)
            out[f"transcribe_batch_b{n}_beam{beam}_s"] = timed(run, repeat)
    return out


def short_context(model: Any, tokenizer: Any, clips: list[Any], repeat: int) -> dict[str, Any]:
    """The encoder on less than 30 s of frames (CTranslate2 accepts it): time and beam-5 text."""
    out: dict[str, Any] = {}
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    for n_frames in (3000, 1500, 1000, 600):
        mel = model.feature_extractor(clips[0])[:, :-1]
        batch = np.pad(mel, ((0, 0), (0, max(0, n_frames - mel.shape[1]))))[None, :, :n_frames]
        try:
            out[f"encode_{n_frames}_s"] = timed(partial(model.encode, batch), repeat)
        except (RuntimeError, ValueError) as exc:
            out[f"encode_{n_frames}_s"] = f"refused: {exc}"
            continue
        result = model.model.generate(model.encode(batch), [prompt], beam_size=5)
        out[f"text_{n_frames}"] = tokenizer.decode(result[0].sequences_ids[0]).strip()
    return out


def profile_parallel(folder: Path, clips: list[Any], repeat: int) -> dict[str, float]:
    """Two decodes at once (1 thread each, 2 CT2 workers) and 4 decodes in 2 pairs."""
    from faster_whisper import WhisperModel

    rec = WhisperRecognizer(folder, threads=1, beam_size=5)
    rec._model = WhisperModel(
        str(folder), device="cpu", compute_type="int8", cpu_threads=1, num_workers=2
    )
    pool = ThreadPoolExecutor(2)

    def pair() -> None:
        list(pool.map(lambda c: rec.transcribe_batch([DecodeRequest(c, "en")]), clips[:2]))

    return {"two_at_once_1_thread_each_s": timed(pair, repeat)}


def vad_cost(clip: Any, repeat: int) -> float:
    """Seconds of Silero VAD per second of audio (streamed, as the tracker does)."""
    from copilot.voice.vad import StreamingVad

    second = np.resize(clip, 16_000).astype(np.float32)

    def run() -> None:
        vad = StreamingVad()
        for i in range(0, len(second), 320):
            vad.feed(second[i : i + 320])

    return timed(run, repeat)


def endpointing(speech: Path, silences_ms: Sequence[int]) -> dict[str, Any]:
    """Per end-of-utterance silence: utterances cut vs planned, and end of speech -> cut (s).

    Both legs of every demo conversation (espeak-ng, 2 customer turns, as ``benchmarks/asr.py``
    streams them) go through the live tracker in 20-ms frames; VAD only, no decoding.
    """
    import json

    from asr_calls import build_call

    from copilot.voice.formats import decode_pcm16
    from copilot.voice.tracker import TrackerSettings, UtteranceEnded, UtteranceTracker

    lines = (ROOT / "knowledge_base" / "demo_conversations.jsonl").read_text().splitlines()
    scripts = [build_call(json.loads(x), 2, speech) for x in lines if x.strip()]
    out: dict[str, Any] = {}
    for ms in silences_ms:
        planned = cut = 0
        delays: list[float] = []
        for script in scripts:
            stereo = decode_pcm16(script.audio).reshape(-1, 2)
            for column, speaker in enumerate(("customer", "agent")):
                tracker = UtteranceTracker(TrackerSettings(min_silence_s=ms / 1000))
                ends: list[tuple[float, float]] = []  # (speech end, when the tracker said so)
                leg = np.ascontiguousarray(stereo[:, column])
                for i in range(0, len(leg), 320):
                    for event in tracker.push(leg[i : i + 320]):
                        if isinstance(event, UtteranceEnded):
                            ends.append((event.speech_end_s, tracker.position_s))
                mine = [u for u in script.utterances if u.speaker == speaker]
                planned += len(mine)
                cut += len(ends)
                for u in mine:
                    after = [said for end, said in ends if end >= u.speech_end_s - 0.3]
                    if after:
                        delays.append(min(after) - u.speech_end_s)
        out[f"{ms}ms"] = {
            "planned": planned,
            "cut": cut,
            "end_of_speech_to_cut_s_mean": round(float(np.mean(delays)), 3),
            "end_of_speech_to_cut_s_max": round(float(np.max(delays)), 3),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Profile, print and write the JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    machine = hardware()
    settings = Settings(data_dir=args.data_dir, _env_file=None)
    folder = asr_folder(asr_spec_from_settings(settings), settings)
    speech = args.data_dir / "bench-speech"
    langs = {"en": "en", "es": "es", "pt": "pt", "en2": "en"}
    clips = [speak(text, langs[k], speech) for k, text in CLIPS.items()]
    results: dict[str, Any] = {
        "clip_s": [round(len(c) / 16_000, 2) for c in clips],
        "by_threads": [profile_threads(folder, t, clips, args.repeat) for t in args.threads],
        "parallel": profile_parallel(folder, clips, args.repeat),
        "vad_s_per_audio_s": vad_cost(clips[0], args.repeat),
        "endpointing": endpointing(speech, (500, 400, 300, 250, 200)),
    }
    for row in results["by_threads"]:
        print(row)
    print(results["parallel"], results["vad_s_per_audio_s"], results["endpointing"])
    report = {
        "benchmark": "asr_profile",
        "date": started.isoformat(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "parameters": {"repeat": args.repeat, "model": folder.name, "compute_type": "int8"},
        "results": results,
    }
    print(f"wrote {write_result(args.out, 'asr_profile', started, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
