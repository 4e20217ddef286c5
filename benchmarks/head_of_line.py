"""Head-of-line blocking: how much a 3,000-character turn delays short turns of other conversations.

The real app (`create_app`, models from the manifest, demo KB, SQLite log database, micro-batching
on, as ``copilot serve``) runs in this process under uvicorn (see ``load_server.py``). Short
conversations replay customer turns of ``knowledge_base/eval/cases.jsonl`` over WebSockets, each
turn sent ``--think-ms`` after the previous one's suggestions; a turn's latency runs from sending
it to receiving its ``suggestions`` frame. Beside them a companion runs conversations in a loop:
start, a short opening turn, the measured turn, end, ``--companion-think-ms``, again, until the
short conversations are done. Two phases, alternated for ``--rounds`` rounds on one server:

* ``baseline``: the companion's measured turn is a short case question;
* ``long``: it is ``--long-chars`` characters (that client's case utterances run together).

The headline, ``added_delay``, compares the short turns of the long phase that were in flight
while a long turn was (``long_overlapping``) with all short turns of the baseline: the difference
at p50, p95 and max (ms) and the ratio. The report also gives every phase's figures, the server's
own latency, the long turns' latency and the micro-batcher's calls. Results go to
``benchmarks/results/head_of_line-<YYYYmmdd-HHMMSS>.json`` with the date, git commit, hardware
and library versions. Run::

    .venv/bin/python benchmarks/head_of_line.py [--rounds 4] [--short-turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load_clients import Metrics, pct  # sibling modules: scripts run from here
from load_dialogues import load_dialogues, script_for
from load_report import versions
from load_server import (
    RunningServer,
    batcher_counts,
    bench_settings,
    start_server,
    stop_server,
    wait_background_warm,
)
from provenance import git_commit, git_dirty, hardware, write_result
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "knowledge_base" / "eval" / "cases.jsonl"
COMPANION_CLIENT = "bank"
TARGET_ADDED_MS = 100.0
PHASES = ("baseline", "long")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short-conversations", type=int, default=3)
    parser.add_argument("--short-turns", type=int, default=20, help="per conversation and phase")
    parser.add_argument("--think-ms", type=float, default=1000.0)
    parser.add_argument("--long-chars", type=int, default=3000)
    parser.add_argument(
        "--companion-think-ms", type=float, default=2000.0, help="between companion conversations"
    )
    parser.add_argument("--rounds", type=int, default=4, help="baseline then long, this often")
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per turn")
    parser.add_argument("--micro-batch-max", type=int, default=16)
    parser.add_argument("--micro-batch-wait-ms", type=float, default=0.0)
    parser.add_argument("--cpu-workers", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser.parse_args(argv)


def long_turn(utterances: list[list[str]], offset: int, n_chars: int) -> str:
    """``n_chars`` characters of one client's case utterances run together, from ``offset``."""
    text = ""
    i = offset
    while len(text) < n_chars:
        text += " ".join(utterances[i % len(utterances)]) + " "
        i += 1
    return text[:n_chars].rsplit(" ", 1)[0]


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured turn: when it was sent (perf_counter, s) and its latencies (ms)."""

    sent: float
    ms: float
    server_ms: float

    def overlaps(self, other: Sample) -> bool:
        """Whether the two turns were in flight at the same time."""
        return self.sent < other.sent + other.ms / 1000 and other.sent < self.sent + self.ms / 1000


async def _ask(
    ws: ClientConnection, message: dict[str, Any], done: str, timeout_s: float
) -> dict[str, Any]:
    """Send a frame; the first reply of type ``done`` (or ``error``)."""
    await ws.send(json.dumps(message))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        if frame.get("type") in (done, "error"):
            return dict(frame)


async def _turn(
    ws: ClientConnection, turn_id: str, text: str, timeout_s: float, out: list[Sample]
) -> None:
    """A customer turn, kept in ``out`` when its suggestions come back."""
    sent = time.perf_counter()
    msg = {"type": "turn", "turn_id": turn_id, "speaker": "customer", "text": text}
    frame = await _ask(ws, msg, "suggestions", timeout_s)
    if frame.get("type") == "suggestions":
        ms = (time.perf_counter() - sent) * 1000
        out.append(Sample(sent, ms, float(frame.get("latency_ms", "nan"))))
    else:
        print(f"turn error: {frame.get('code')}", file=sys.stderr)


@asynccontextmanager
async def _conversation(
    base: str, client: str, timeout_s: float
) -> AsyncIterator[ClientConnection]:
    url = f"{base}/v1/conversations/hol-{uuid.uuid4().hex[:12]}/stream"
    async with connect(url, proxy=None, max_size=2**22) as ws:
        start = {"type": "start", "agent_id": "bench-agent", "client": client}
        await _ask(ws, start, "ack", timeout_s)
        yield ws
        await _ask(ws, {"type": "end"}, "ack", timeout_s)


async def short_conversation(
    base: str,
    client: str,
    turns: list[str],
    delay_s: float,
    args: argparse.Namespace,
    out: list[Sample],
) -> None:
    """Customer turns one after the other, ``--think-ms`` apart."""
    async with _conversation(base, client, args.timeout_s) as ws:
        await asyncio.sleep(delay_s)
        for i, text in enumerate(turns):
            if i:
                await asyncio.sleep(args.think_ms / 1000)
            await _turn(ws, f"t{i}", text, args.timeout_s, out)


async def companion(
    base: str,
    phase: str,
    dialogues: dict[str, list[list[str]]],
    args: argparse.Namespace,
    stop: asyncio.Event,
    out: list[Sample],
) -> None:
    """Conversations of an opening turn and the measured turn (long or short), until ``stop``."""
    cases = dialogues[COMPANION_CLIENT]
    n = 0
    while not stop.is_set():
        async with _conversation(base, COMPANION_CLIENT, args.timeout_s) as ws:
            await _turn(ws, "t1", "hola", args.timeout_s, [])
            long = phase == "long"
            text = long_turn(cases, n, args.long_chars) if long else cases[n % len(cases)][-1]
            await _turn(ws, "t2", text, args.timeout_s, out)
        n += 1
        await asyncio.sleep(args.companion_think_ms / 1000)


async def run_phase(
    running: RunningServer,
    phase: str,
    round_no: int,
    dialogues: dict[str, list[list[str]]],
    args: argparse.Namespace,
) -> tuple[list[Sample], list[Sample]]:
    """One phase: the short conversations beside the companion; (short, companion) turns."""
    shorts: list[Sample] = []
    measured: list[Sample] = []
    stop = asyncio.Event()
    side = asyncio.create_task(companion(running.ws, phase, dialogues, args, stop, measured))
    k = args.short_conversations
    tasks = []
    for i in range(k):
        client, turns = script_for(dialogues, i + 7 * round_no, args.short_turns)
        delay = args.think_ms / 1000 * i / k
        tasks.append(short_conversation(running.ws, client, turns, delay, args, shorts))
    await asyncio.gather(*tasks)
    stop.set()
    await side
    return shorts, measured


def _added(base: Metrics, other: Metrics) -> Metrics:
    """``other`` minus ``base`` at p50, p95 and max (ms), and their ratios."""
    out: Metrics = {}
    for key in ("p50", "p95", "max"):
        out[f"{key}_ms"] = other[key] - base[key]
        out[f"{key}_ratio"] = other[key] / base[key]
    return out


async def bench(args: argparse.Namespace) -> Metrics:
    """Both phases, alternated, on one server; the figures of the report."""
    dialogues = load_dialogues(CASES)
    running = await start_server(bench_settings(args.data_dir, True, args))
    shorts: dict[str, list[Sample]] = {p: [] for p in PHASES}
    measured: dict[str, list[Sample]] = {p: [] for p in PHASES}
    rounds: list[Metrics] = []
    try:
        await wait_background_warm()
        await run_phase(running, "warm", 99, dialogues, args)  # first calls, not measured
        before = batcher_counts(running)
        for r in range(args.rounds):
            for phase in PHASES:
                short, companion_turns = await run_phase(running, phase, r, dialogues, args)
                shorts[phase] += short
                measured[phase] += companion_turns
                figures = pct([x.ms for x in short])
                rounds.append(
                    {
                        "round": r,
                        "phase": phase,
                        "short_turn_latency_ms": figures,
                        "load_average_after": list(os.getloadavg()),
                    }
                )
                print(f"round {r} {phase}: {figures}", file=sys.stderr)
        after = batcher_counts(running)
    finally:
        await stop_server(running)
    overlapping = [s for s in shorts["long"] if any(s.overlaps(m) for m in measured["long"])]
    latency = {p: pct([x.ms for x in shorts[p]]) for p in PHASES}
    latency["long_overlapping"] = pct([x.ms for x in overlapping])
    added = _added(latency["baseline"], latency["long_overlapping"])
    calls = None
    if before is not None and after is not None:
        calls = {"batches": after[0] - before[0], "texts": after[1] - before[1]}
    return {
        "short_turn_latency_ms": latency,
        "short_turn_server_latency_ms": {p: pct([x.server_ms for x in shorts[p]]) for p in PHASES},
        "short_turns": {
            **{p: len(shorts[p]) for p in PHASES},
            "long_overlapping": len(overlapping),
        },
        "companion_turn_latency_ms": {p: pct([x.ms for x in measured[p]]) for p in PHASES},
        "companion_turns": {p: len(measured[p]) for p in PHASES},
        "added_delay": added,
        "added_delay_all_long_phase_turns": _added(latency["baseline"], latency["long"]),
        "target_added_ms": TARGET_ADDED_MS,
        "meets_target_p95": added["p95_ms"] <= TARGET_ADDED_MS,
        "meets_target_max": added["max_ms"] <= TARGET_ADDED_MS,
        "micro_batcher": calls,
        "startup_s": running.startup_s,
        "rounds": rounds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the JSON; returns the exit status."""
    args = parse_args(argv)
    started = datetime.now(UTC)
    machine = hardware()
    results = asyncio.run(bench(args))
    report = {
        "benchmark": "head_of_line",
        "date": started.isoformat(),
        "duration_s": (datetime.now(UTC) - started).total_seconds(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "versions": versions(),
        "parameters": {
            **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "driven_through": "the real service: uvicorn in-process, WebSocket clients "
            "(websockets) in the same process, micro-batching on, default settings otherwise",
            "companion_client": COMPANION_CLIENT,
            "phases": "each round: baseline (companion's measured turn short), then long "
            "(companion's measured turn --long-chars characters)",
            "added_delay": "short turns of the long phase that were in flight while a long turn "
            "was (long_overlapping) minus all short turns of the baseline phase, at p50 / p95 / "
            "max of their latency; ratio = long_overlapping / baseline. "
            "added_delay_all_long_phase_turns: the same with every short turn of the long phase",
            "timing": "perf_counter from ws.send of a turn to receipt of its suggestions frame",
        },
        "results": results,
    }
    path = write_result(args.out, "head_of_line", started, report)
    added = results["added_delay"]
    print(
        f"added delay p50 {added['p50_ms']:.0f} ms, p95 {added['p95_ms']:.0f} ms, "
        f"max {added['max_ms']:.0f} ms (p95 ratio {added['p95_ratio']:.2f}); wrote {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
