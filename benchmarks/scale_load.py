"""The scale-out benchmark's load: WebSocket and REST conversations released together."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import httpx
from load_clients import LevelStats, conversation  # sibling modules: scripts run from here
from load_dialogues import load_dialogues, script_for

CASES = Path(__file__).resolve().parent.parent / "knowledge_base" / "eval" / "cases.jsonl"


async def rest_conversation(
    http: httpx.AsyncClient,
    conv_id: str,
    client: str,
    turns: Sequence[str],
    think_s: float,
    jitter_s: float,
    go: asyncio.Event,
    stats: LevelStats,
) -> None:
    """A webhook conversation: its customer turns by ``POST .../turns``, one at a time."""
    await go.wait()
    await asyncio.sleep(jitter_s)
    for i, text in enumerate(turns):
        if i:
            await asyncio.sleep(think_s)
        body = {"turn_id": f"t{i + 1}", "speaker": "customer", "text": text, "client": client}
        sent = time.perf_counter()
        stats.turns_sent += 1
        try:
            response = await http.post(f"/v1/conversations/{conv_id}/turns", json=body)
        except httpx.TimeoutException:
            stats.errors["rest:timeout"] += 1
            continue
        except httpx.HTTPError as exc:
            stats.errors[f"rest:{type(exc).__name__}"] += 1
            continue
        if response.status_code != 200:
            stats.errors[f"rest:{response.status_code}"] += 1
            continue
        frame = response.json()
        if frame.get("type") == "suggestions":
            stats.latencies_ms.append((time.perf_counter() - sent) * 1000)
            stats.server_ms.append(float(frame.get("latency_ms", float("nan"))))
        elif frame.get("detail") == "superseded":
            stats.superseded += 1
        else:
            stats.errors[f"rest:ack:{frame.get('detail')}"] += 1


async def offer_load(
    base: str, n_ws: int, n_rest: int, args: argparse.Namespace, tag: str
) -> tuple[LevelStats, LevelStats, float]:
    """Connect every conversation, release them together; (ws, rest) stats and wall seconds."""
    dialogues = load_dialogues(CASES)
    rng = random.Random(f"{args.seed}-{tag}")
    think_s = args.think_ms / 1000
    run_id = uuid.uuid4().hex[:8]
    ws_stats, rest_stats = LevelStats(), LevelStats()
    go = asyncio.Event()
    connected = [asyncio.Event() for _ in range(n_ws)]
    ws_base = base.replace("http://", "ws://", 1)
    limits = httpx.Limits(max_connections=max(n_rest, 1), max_keepalive_connections=max(n_rest, 1))
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout_s, limits=limits) as http:
        tasks = []
        for i in range(n_ws):
            client, turns = script_for(dialogues, i + rng.randrange(10_000), args.turns)
            tasks.append(
                asyncio.create_task(
                    conversation(
                        ws_base,
                        f"scale-{tag}-{run_id}-ws{i}",
                        client,
                        turns,
                        think_s,
                        args.timeout_s,
                        rng.uniform(0, think_s),
                        go,
                        connected[i],
                        ws_stats,
                        lambda: None,
                    )
                )
            )
        for i in range(n_rest):
            client, turns = script_for(dialogues, n_ws + i + rng.randrange(10_000), args.turns)
            conv_id = f"scale-{tag}-{run_id}-rest{i}"
            jitter = rng.uniform(0, think_s)
            tasks.append(
                asyncio.create_task(
                    rest_conversation(http, conv_id, client, turns, think_s, jitter, go, rest_stats)
                )
            )
        await asyncio.gather(*(e.wait() for e in connected))
        started = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        return ws_stats, rest_stats, time.perf_counter() - started
