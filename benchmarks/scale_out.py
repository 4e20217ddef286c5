"""Scale-out: one load against 1 replica and 2 replicas behind nginx, with Redis on, in one run.

Each phase starts its own ``copilot serve`` processes (separate ports, one shared data folder with
the demo KB, as in ``docker-compose.yml``), logging to this run's own PostgreSQL database, and
offers them the same load: ``--ws`` WebSocket conversations (the client of
``benchmarks/service_load.py``) and ``--rest`` conversations posting turns by REST, all released
together, each sending ``--turns`` customer turns ``--think-ms`` apart. Phases, in this order by
default:

* ``direct``: 1 replica, conversation state in process (no Redis), no balancer: the baseline;
* ``direct-redis``: 1 replica with ``COPILOT_REDIS_URL`` (this run's own key prefix): against
  ``direct``, the cost of the Redis hop per turn;
* ``lb1-redis``: the same replica behind a local nginx (``deploy/nginx.conf`` with the replicas'
  ports): against ``direct-redis``, the cost of the balancer hop;
* ``lb2-redis``: 2 replicas behind nginx: against ``lb1-redis``, what a second replica gives.

Per phase: throughput (suggestions received / wall time of the measured phase), latency from
sending a turn to its suggestions (p50/p95/p99, WebSocket and REST apart and together), the
server's own ``latency_ms``, errors by kind, and CPU seconds per turn of the replicas, of nginx
and of the Redis server (its ``INFO cpu``, which counts every client of that server). Client,
replicas, nginx, Redis and PostgreSQL share this machine: on 2 cores two replicas cannot be
faster than one, and the figures say what each component costs, not what a bigger box gives.

Results go to ``benchmarks/results/scale_out-<YYYYmmdd-HHMMSS>.json`` with the date, git commit,
hardware and library versions. Run (a few minutes; the first run also ingests the demo KB)::

    .venv/bin/python benchmarks/scale_out.py
    .venv/bin/python benchmarks/scale_out.py --ws 4 --rest 2 --turns 3   # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load_clients import LevelStats, pct  # sibling modules: scripts run from here
from load_report import fmt_ms, versions
from provenance import git_commit, git_dirty, hardware, write_result
from rich.console import Console
from rich.table import Table
from scale_load import offer_load
from scale_servers import (
    Nginx,
    cpu_seconds,
    create_database,
    delete_prefix,
    drop_database,
    find_nginx,
    process_tree,
    redis_cpu_seconds,
    start_nginx,
    start_replica,
    stop_nginx,
    stop_replica,
    wait_ready,
)

from copilot.settings import Settings
from copilot.storage.db import upgrade

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "bench-scale"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
Metrics = dict[str, Any]


@dataclass(frozen=True)
class Phase:
    """One configuration under load."""

    name: str
    replicas: int
    via_lb: bool
    redis: bool


PHASES = {
    p.name: p
    for p in (
        Phase("direct", 1, via_lb=False, redis=False),
        Phase("direct-redis", 1, via_lb=False, redis=True),
        Phase("lb1-redis", 1, via_lb=True, redis=True),
        Phase("lb2-redis", 2, via_lb=True, redis=True),
    )
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--phases", nargs="+", choices=list(PHASES), default=list(PHASES))
    parser.add_argument("--ws", type=int, default=24, help="WebSocket conversations")
    parser.add_argument("--rest", type=int, default=8, help="REST conversations")
    parser.add_argument("--turns", type=int, default=8, help="customer turns per conversation")
    parser.add_argument("--think-ms", type=float, default=500.0, help="pause between turns")
    parser.add_argument("--timeout-s", type=float, default=30.0, help="per turn (and connect)")
    parser.add_argument("--warmup-turns", type=int, default=4, help="per replica, not measured")
    parser.add_argument("--settle-s", type=float, default=5.0, help="idle after ready (warm-up)")
    parser.add_argument("--cpu-workers", type=int, default=2, help="COPILOT_CPU_WORKERS")
    parser.add_argument(
        "--postgres-admin-url",
        default=os.environ.get(
            "COPILOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server where this run creates (and drops) its own database",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--nginx", default=None, help="nginx binary (default: found on PATH)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="KB, kept across runs")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON result")
    return parser.parse_args(argv)


def redis_prefix_setting() -> str | None:
    """Name of the Redis key-prefix setting of this build, if it has one."""
    fields = Settings.model_fields
    return next((n for n in ("redis_prefix", "redis_key_prefix") if n in fields), None)


def replica_env(args: argparse.Namespace, db_url: str, redis_prefix: str | None) -> dict[str, str]:
    """Environment of a replica: this run's database, open access, Redis when asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    env.update(
        COPILOT_DATABASE_URL=db_url,
        COPILOT_OPEN_ACCESS="true",
        COPILOT_LOG_SALT="scale-out-benchmark",
        COPILOT_CPU_WORKERS=str(args.cpu_workers),
        HF_HUB_OFFLINE="1",
    )
    if redis_prefix is not None:
        env["COPILOT_REDIS_URL"] = args.redis_url
        field = redis_prefix_setting()
        if field is not None:
            env[f"COPILOT_{field.upper()}"] = redis_prefix
    return env


def _summary(stats: LevelStats) -> Metrics:
    return {
        "turns_sent": stats.turns_sent,
        "turns_ok": len(stats.latencies_ms),
        "latency_ms": pct(stats.latencies_ms),
        "server_latency_ms": pct(stats.server_ms),
        "errors": dict(sorted(stats.errors.items())),
        "superseded": stats.superseded,
    }


def _per_turn_ms(seconds: float | None, turns: int) -> float | None:
    return None if seconds is None or turns == 0 else seconds / turns * 1000


async def run_phase(
    phase: Phase, args: argparse.Namespace, db_url: str, prefix: str, nginx_bin: str | None
) -> Metrics:
    """Start the phase's replicas (and nginx), warm them up, measure the load, stop them."""
    env = replica_env(args, db_url, prefix if phase.redis else None)
    logs = args.data_dir / "logs"
    replicas = [
        start_replica(args.data_dir, env, logs / f"{phase.name}-{i}.log")
        for i in range(phase.replicas)
    ]
    nginx: Nginx | None = None
    try:
        await asyncio.gather(*(wait_ready(r) for r in replicas))
        if phase.via_lb:
            if nginx_bin is None:
                raise RuntimeError("no nginx binary: apt-get install nginx-light, or --nginx PATH")
            folder = Path(tempfile.mkdtemp(prefix=f"scale-nginx-{phase.name}-"))
            nginx = await start_nginx(nginx_bin, [r.port for r in replicas], folder)
        await asyncio.sleep(args.settle_s)
        for replica in replicas:  # directly, so that each replica is warm
            await offer_load(replica.url, 2, 0, _warmup_args(args), f"warm-{phase.name}")
        base = nginx.url if nginx is not None else replicas[0].url
        replica_pids = [r.proc.pid for r in replicas]
        nginx_pids = process_tree(nginx.proc.pid) if nginx is not None else []
        cpu0 = [cpu_seconds([pid]) for pid in replica_pids]
        nginx0, redis0 = cpu_seconds(nginx_pids), redis_cpu_seconds(args.redis_url)
        client0 = time.process_time()
        ws, rest, wall_s = await offer_load(base, args.ws, args.rest, args, phase.name)
        client_s = time.process_time() - client0
        replica_s = [cpu_seconds([pid]) - c for pid, c in zip(replica_pids, cpu0, strict=True)]
        nginx_s = cpu_seconds(nginx_pids) - nginx0 if nginx is not None else None
        redis1 = redis_cpu_seconds(args.redis_url)
        redis_s = redis1 - redis0 if redis0 is not None and redis1 is not None else None
    finally:
        if nginx is not None:
            stop_nginx(nginx)
        for replica in replicas:
            stop_replica(replica)
    ok = len(ws.latencies_ms) + len(rest.latencies_ms)
    errors = Counter(ws.errors) + Counter(rest.errors)
    return {
        "phase": phase.name,
        "replicas": phase.replicas,
        "via_lb": phase.via_lb,
        "redis": phase.redis,
        "startup_s": [r.startup_s for r in replicas],
        "wall_s": wall_s,
        "turns_ok": ok,
        "throughput_turns_per_s": ok / wall_s if wall_s > 0 else 0.0,
        "latency_ms": pct(ws.latencies_ms + rest.latencies_ms),
        "server_latency_ms": pct(ws.server_ms + rest.server_ms),
        "errors_total": sum(errors.values()),
        "errors": dict(sorted(errors.items())),
        "websocket": _summary(ws),
        "rest": _summary(rest),
        "cpu_s": {
            "replicas": replica_s,
            "nginx": nginx_s,
            "redis_server": redis_s,
            "client": client_s,
        },
        "cpu_ms_per_turn": {
            "replicas": _per_turn_ms(sum(replica_s), ok),
            "nginx": _per_turn_ms(nginx_s, ok),
            "redis_server": _per_turn_ms(redis_s, ok) if phase.redis else None,
        },
        "load_average_after": list(os.getloadavg()),
    }


def _warmup_args(args: argparse.Namespace) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "turns": args.warmup_turns, "think_ms": 0.0})


async def prepare(args: argparse.Namespace, db_url: str) -> Metrics:
    """Migrate the run's database, and ingest the demo KB into the data folder once.

    Done once before the phases so that replicas started together never race to migrate the
    schema or to fill an empty KB.
    """
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, db_url)
    migrated_s = time.perf_counter() - started
    ingested = not (args.data_dir / "kb").exists()
    if ingested:
        env = replica_env(args, db_url, None)
        replica = start_replica(
            args.data_dir, env, args.data_dir / "logs" / "prepare.log", ("--demo",)
        )
        try:
            await wait_ready(replica)
        finally:
            stop_replica(replica)
    return {"migrate_s": migrated_s, "kb_ingested_in_this_run": ingested}


def _diff(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _ratio(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None or a == 0 else b / a


def compare(results: dict[str, Metrics]) -> Metrics:
    """What each component adds: Redis hop, balancer hop, second replica."""
    out: Metrics = {}

    def hop(a: Metrics, b: Metrics) -> Metrics:
        return {
            "p50_ms": _diff(b["latency_ms"]["p50"], a["latency_ms"]["p50"]),
            "p95_ms": _diff(b["latency_ms"]["p95"], a["latency_ms"]["p95"]),
            "server_p50_ms": _diff(b["server_latency_ms"]["p50"], a["server_latency_ms"]["p50"]),
            "replica_cpu_ms_per_turn": _diff(
                b["cpu_ms_per_turn"]["replicas"], a["cpu_ms_per_turn"]["replicas"]
            ),
            "throughput_ratio": _ratio(b["throughput_turns_per_s"], a["throughput_turns_per_s"]),
        }

    if "direct" in results and "direct-redis" in results:
        out["redis_hop"] = hop(results["direct"], results["direct-redis"])
        out["redis_hop"]["redis_server_cpu_ms_per_turn"] = results["direct-redis"][
            "cpu_ms_per_turn"
        ]["redis_server"]
    if "direct-redis" in results and "lb1-redis" in results:
        out["lb_hop"] = hop(results["direct-redis"], results["lb1-redis"])
        out["lb_hop"]["nginx_cpu_ms_per_turn"] = results["lb1-redis"]["cpu_ms_per_turn"]["nginx"]
    if "lb1-redis" in results and "lb2-redis" in results:
        one, two = results["lb1-redis"], results["lb2-redis"]
        out["second_replica"] = {
            "throughput_ratio": _ratio(
                two["throughput_turns_per_s"], one["throughput_turns_per_s"]
            ),
            "p95_ratio": _ratio(two["latency_ms"]["p95"], one["latency_ms"]["p95"]),
        }
    return out


def render(results: dict[str, Metrics], console: Console, title: str) -> None:
    """One row per phase."""
    table = Table(
        title=title,
        caption="latency: client send → suggestions (WebSocket and REST together); "
        "cpu: CPU ms per turn of the replicas / nginx / the Redis server",
    )
    for col in ("phase", "turns ok", "turns/s", "p50 ms", "p95 ms", "errors", "cpu ms/turn"):
        table.add_column(col, justify="left" if col == "phase" else "right")
    for r in results.values():
        cpu = r["cpu_ms_per_turn"]
        cpu_cell = " / ".join(fmt_ms(cpu[k]) for k in ("replicas", "nginx", "redis_server"))
        table.add_row(
            r["phase"],
            str(r["turns_ok"]),
            f"{r['throughput_turns_per_s']:.1f}",
            fmt_ms(r["latency_ms"]["p50"]),
            fmt_ms(r["latency_ms"]["p95"]),
            str(r["errors_total"]),
            cpu_cell,
        )
    console.print(table)


async def bench(args: argparse.Namespace, console: Console) -> tuple[Metrics, dict[str, Metrics]]:
    """Prepare, then every phase in order; the run's facts and the results per phase."""
    nginx_bin = args.nginx or find_nginx()
    if any(PHASES[p].redis for p in args.phases) and "redis_url" not in Settings.model_fields:
        raise SystemExit("this copilot has no redis_url setting: run --phases direct")
    db_url = create_database(args.postgres_admin_url)
    prefix = f"bench-scale-{uuid.uuid4().hex[:8]}"  # the service adds ":" after it
    results: dict[str, Metrics] = {}
    facts: Metrics = {"database": db_url.rsplit("@", 1)[-1], "redis_prefix": prefix}
    try:
        facts["prepare"] = await prepare(args, db_url)
        for name in args.phases:
            console.print(f"phase {name}: starting")
            r = await run_phase(PHASES[name], args, db_url, prefix, nginx_bin)
            results[name] = r
            console.print(
                f"phase {name}: {r['throughput_turns_per_s']:.1f} turns/s, "
                f"p95 {fmt_ms(r['latency_ms']['p95'])} ms, errors {r['errors_total']}"
            )
    finally:
        if not args.keep_database:
            drop_database(args.postgres_admin_url, db_url)
        if any(PHASES[p].redis for p in args.phases):
            facts["redis_keys_deleted"] = delete_prefix(args.redis_url, prefix)
    facts["nginx"] = nginx_bin
    return facts, results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON; returns the exit status."""
    args = parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    console = Console(width=None if sys.stdout.isatty() else 150)
    started = datetime.now(UTC)
    machine = hardware()
    facts, results = asyncio.run(bench(args, console))
    render(
        results, console, f"Scale-out, {machine['cpu_count']} cores, think {args.think_ms:.0f} ms"
    )
    comparison = compare(results)
    console.print(comparison)
    report = {
        "benchmark": "scale_out",
        "date": started.isoformat(),
        "duration_s": (datetime.now(UTC) - started).total_seconds(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "versions": versions(),
        "parameters": {
            "phases_in_order": args.phases,
            "ws_conversations": args.ws,
            "rest_conversations": args.rest,
            "turns_per_conversation": args.turns,
            "think_ms": args.think_ms,
            "timeout_s_per_turn": args.timeout_s,
            "warmup": f"after /readyz, {args.settle_s} s idle, then 2 WebSocket conversations x "
            f"{args.warmup_turns} turns straight to each replica, not measured",
            "cpu_workers": args.cpu_workers,
            "redis_url": args.redis_url,
            "redis_prefix_setting": redis_prefix_setting(),
            "data_dir": str(args.data_dir),
            "seed": args.seed,
            "replicas": "python -m copilot serve subprocesses, open access, one shared data "
            "folder (demo KB), this run's PostgreSQL database, default logging",
            "balancer": "Debian nginx, deploy/nginx.conf with 127.0.0.1 upstreams (least_conn)",
            "client": "this process: websockets client (benchmarks/load_clients.py) and httpx "
            "for REST turns; shares the machine with every server",
            "timing": "perf_counter from sending a turn to receiving its suggestions",
            "throughput": "suggestions received / wall seconds of the measured phase",
        },
        **facts,
        "results": results,
        "comparison": comparison,
    }
    path = write_result(args.out, "scale_out", started, report)
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
