"""The client side of the load test: concurrent WebSocket conversations and one level's figures."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from load_dialogues import script_for  # sibling modules: scripts run from here
from load_server import RunningServer, batcher_counts, scrape
from rich.progress import Progress, TaskID
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

Metrics = dict[str, Any]


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
