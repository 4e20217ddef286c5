"""Per-turn CPU of the service, stage by stage: customer turns through the real app, in process.

The app is built with ``create_app`` and its lifespan (models from the manifest, the KB copied from
``--kb-from`` into a temporary data folder, the SQLite log database there, default settings) and
its `AssistService` is driven directly, one customer turn at a time, as the WebSocket route drives
it: each conversation is started, its customer turns (the customer turns of successive evaluation
dialogues of one client, as the load test sends them) go through ``service.turn`` and a listener
turns each result into the ``suggestions`` frame's JSON, as the socket would. Log lines are
written as JSON to a file in the temporary folder.

The CPU of each stage (`turn_stages.STAGES`: language detection, query building, embedding, move
detection, dense and lexical search, retrieval glue, reranking, confidence, drafting, translation,
redaction, log database writes, log lines, JSON) is measured around the real calls with
``process_time``; what no stage holds is "other" (conversation state, events, metrics, the event
loop and the thread hand-offs). After the timed pass, ``--profile-turns`` more turns run under
cProfile (main and worker threads, merged) into ``turn_profile-<stamp>.prof`` and a text summary.

Results go to ``benchmarks/results/turn_profile-<YYYYmmdd-HHMMSS>.json``. Run::

    .venv/bin/python benchmarks/turn_profile.py                # 300 turns, then 100 profiled
    .venv/bin/python benchmarks/turn_profile.py --quick        # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from load_report import versions  # sibling modules: scripts run from here
from load_server import wait_background_warm
from provenance import git_commit, git_dirty, hardware, write_result
from rich.console import Console
from rich.table import Table
from turn_stages import (
    EMBEDDING,
    JSON_STAGE,
    STAGES,
    Driver,
    StageClock,
    ThreadProfiles,
    install,
    timed,
)

from copilot.api.app import create_app
from copilot.logconfig import configure_logging
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
CASES = ROOT / "knowledge_base" / "eval" / "cases.jsonl"
LOG_LINES_STAGE = "logging: log lines (JSON, scrubbed)"
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")
OTHER = "other (state, events, metrics, event loop, thread hand-offs)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=300, help="measured customer turns")
    parser.add_argument("--turns-per-conversation", type=int, default=6)
    parser.add_argument("--warmup-turns", type=int, default=24, help="run first, not measured")
    parser.add_argument("--profile-turns", type=int, default=100, help="under cProfile (0: none)")
    parser.add_argument(
        "--kb-from", type=Path, default=ROOT / "data" / "bench" / "kb", help="a data folder's kb/"
    )
    parser.add_argument("--use-reranker", action="store_true", help="reranker on (default off)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="a smoke run: a few turns")
    args = parser.parse_args(argv)
    if args.quick:
        args.turns, args.warmup_turns, args.profile_turns = 12, 4, 6
    return args


def _log_to(path: Path, clock: StageClock) -> None:
    """The service's JSON log lines into ``path``, each one timed as a stage."""
    configure_logging(logging.INFO)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)  # what configure_logging installs
    handler.setStream(path.open("a", encoding="utf-8"))
    handler.handle = timed(clock, LOG_LINES_STAGE, handler.handle)  # type: ignore[method-assign]  # one instance, measured


def breakdown(clock: StageClock, cpu: list[float], wall: list[float]) -> list[dict[str, Any]]:
    """Rows per stage: CPU and wall ms per turn, share of the turn's CPU, calls per turn."""
    n = len(cpu)
    total = sum(cpu)
    names = list(dict.fromkeys([s[0] for s in STAGES] + [LOG_LINES_STAGE, JSON_STAGE]))
    rows = [
        {
            "stage": name,
            "cpu_ms_per_turn": clock.cpu[name] / n * 1000,
            "share_of_cpu": clock.cpu[name] / total if total else None,
            "wall_ms_per_turn": clock.wall[name] / n * 1000,
            "calls_per_turn": clock.calls[name] / n,
        }
        for name in names
    ]
    if clock.calls[EMBEDDING]:
        rows[names.index(EMBEDDING)]["texts_per_call"] = (
            clock.texts[EMBEDDING] / clock.calls[EMBEDDING]
        )
        rows[names.index(EMBEDDING)]["chars_per_text"] = (
            clock.chars[EMBEDDING] / clock.texts[EMBEDDING] if clock.texts[EMBEDDING] else None
        )
    other_cpu = total - sum(clock.cpu.values())
    other_wall = sum(wall) - sum(clock.wall.values())
    rows.append(
        {
            "stage": OTHER,
            "cpu_ms_per_turn": other_cpu / n * 1000,
            "share_of_cpu": other_cpu / total if total else None,
            "wall_ms_per_turn": other_wall / n * 1000,
            "calls_per_turn": None,
        }
    )
    return rows


def _profile_summary(stats: pstats.Stats) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]  # pstats writes to this attribute
    stats.sort_stats("tottime").print_stats(40)
    stats.sort_stats("cumulative").print_stats(40)
    return out.getvalue()


async def measure(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    """Start the app on ``data_dir``, warm up, time, then profile; the figures."""
    clock = StageClock()
    install(clock)
    threads = ThreadProfiles()
    threads.install()
    _log_to(data_dir / "service.log", clock)
    settings = Settings(
        data_dir=data_dir,
        ingest_demo_on_start=True,
        open_access=True,
        background_start=False,
        use_reranker=args.use_reranker,
        _env_file=None,
    )
    app = create_app(settings)
    started = time.perf_counter()
    async with app.router.lifespan_context(app):
        startup_s = time.perf_counter() - started
        warm_s = await wait_background_warm()
        state = app.state.copilot
        driver = Driver(state.service, clock, args.turns_per_conversation, CASES)
        await driver.run(args.warmup_turns, measure=False)
        clock.reset()
        cpu, wall = await driver.run(args.turns, measure=True)
        rows = breakdown(clock, cpu, wall)
        profile: pstats.Stats | None = None
        if args.profile_turns:
            main = cProfile.Profile()
            threads.active = True
            main.enable()
            await driver.run(args.profile_turns, measure=False)
            main.disable()
            threads.active = False
            profile = pstats.Stats(main)
            for worker in threads.profiles.values():
                profile.add(worker)
        settings_used = {
            k: getattr(settings, k)
            for k in (
                "model_threads",
                "cpu_workers",
                "micro_batching",
                "micro_batch_max",
                "blas_threads",
                "use_reranker",
                "machine_translation",
                "suggestions_k",
            )
        }
        n_passages = state.kb.n_passages
    return {
        "startup_s": startup_s,
        "background_warm_wait_s": warm_s,
        "kb_passages": n_passages,
        "settings": settings_used,
        "turns": len(cpu),
        "turn_cpu_ms": {
            "mean": float(np.mean(cpu) * 1000),
            "p50": float(np.percentile(cpu, 50) * 1000),
            "p95": float(np.percentile(cpu, 95) * 1000),
        },
        "turn_wall_ms": {
            "mean": float(np.mean(wall) * 1000),
            "p50": float(np.percentile(wall, 50) * 1000),
            "p95": float(np.percentile(wall, 95) * 1000),
        },
        "stages": rows,
        "_profile": profile,
    }


def render(out: dict[str, Any], console: Console) -> None:
    """The breakdown as a table, largest stage first."""
    cpu = out["turn_cpu_ms"]
    table = Table(
        title=f"Per customer turn, {out['turns']} turns one at a time: CPU {cpu['mean']:.1f} ms "
        f"mean (p50 {cpu['p50']:.1f}, p95 {cpu['p95']:.1f}), wall {out['turn_wall_ms']['mean']:.1f}"
        " ms mean",
        caption="CPU: process_time around the stage's calls, exclusive of nested stages",
    )
    for col in ("stage", "CPU ms/turn", "share", "wall ms/turn", "calls/turn"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for r in sorted(out["stages"], key=lambda r: -r["cpu_ms_per_turn"]):
        calls = r["calls_per_turn"]
        table.add_row(
            r["stage"],
            f"{r['cpu_ms_per_turn']:.2f}",
            f"{r['share_of_cpu']:.1%}" if r["share_of_cpu"] is not None else "-",
            f"{r['wall_ms_per_turn']:.2f}",
            "-" if calls is None else f"{calls:.2f}",
        )
    console.print(table)
    embedding = next(r for r in out["stages"] if r["stage"] == EMBEDDING)
    if "texts_per_call" in embedding:
        console.print(
            f"embedding: {embedding['texts_per_call']:.2f} texts per call (the turn, and the "
            f"dialogue context when it adds anything), {embedding['chars_per_text']:.0f} "
            "characters per text"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table, write the JSON and the profile; returns the exit status."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 130)
    started = datetime.now(UTC)
    machine = hardware()
    with tempfile.TemporaryDirectory(prefix="turn-profile-") as tmp:
        data_dir = Path(tmp)
        copied = (args.kb_from / "default").is_dir()
        if copied:
            shutil.copytree(args.kb_from, data_dir / "kb")
        out = asyncio.run(measure(args, data_dir))
    profile: pstats.Stats | None = out.pop("_profile")
    render(out, console)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    files: dict[str, str] = {}
    if profile is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        prof = args.out / f"turn_profile-{stamp}.prof"
        profile.dump_stats(prof)
        (args.out / f"turn_profile-{stamp}.txt").write_text(_profile_summary(profile))
        files = {"profile": prof.name, "profile_summary": f"turn_profile-{stamp}.txt"}
    report = {
        "benchmark": "turn_profile",
        "date": started.isoformat(),
        "duration_s": (datetime.now(UTC) - started).total_seconds(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": machine,
        "versions": versions(),
        "parameters": {
            "turns": args.turns,
            "thread_env_at_start": {k: os.environ.get(k) for k in THREAD_ENV},
            "warmup_turns": args.warmup_turns,
            "profile_turns": args.profile_turns,
            "turns_per_conversation": args.turns_per_conversation,
            "kb": f"copied from {args.kb_from}" if copied else "demo KB ingested in this run",
            "database": "SQLite in a temporary data folder",
            "dialogues": f"{CASES.relative_to(ROOT)}: customer turns of successive cases of a "
            "client (benchmarks/load_dialogues.py), one conversation after another",
            "timing": "process_time (whole process) and perf_counter around each stage's calls, "
            "turns strictly one at a time; exclusive of nested stages; the translator engine "
            "process's CPU from /proc; 'other' = the turn's process CPU less every stage",
            "not_in": "the WebSocket frame parsing and socket writes, uvicorn (no server runs)",
        },
        **out,
        "files": files,
    }
    path = write_result(args.out, "turn_profile", started, report)
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
