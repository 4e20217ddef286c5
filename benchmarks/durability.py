"""Acknowledged means committed: kill -9 under load, and what committing before the ack costs.

Two source trees run in the same run, on the same machine: this checkout (``current``) and a
baseline commit (``--baseline``, default the last one that acknowledged queued writes), checked
out in a temporary git worktree. Each serves the tiny test KB from ``tests/data/kb`` with the
service defaults (SQLite in its data folder, no reranker) as a real ``copilot serve`` process.

For each tree:

* a steady phase: ``--conversations`` concurrent REST conversations for ``--seconds`` (each sends
  a customer turn, accepts its first reply, thinks ``--think-s`` and goes on); turn latency p50 /
  p95 from the client's side;
* ``--runs`` kill -9 runs: the same load, the log tables held locked for ``--stall-s`` (a busy
  disk or database) and the server SIGKILLed while they are; then every acknowledged turn and
  feedback is looked up in the log database.

Results go to ``benchmarks/results/durability-<stamp>.json`` with the machine, date and commit::

    .venv/bin/python benchmarks/durability.py --conversations 50 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provenance import ROOT, write_result
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(ROOT))  # the harness is shared with the slow test
from tests.reliability.crash_load import (
    Server,
    found,
    load,
    load_then_kill,
    percentile,
)

BASELINE = "132a143"  # the last commit whose service acknowledged writes when queued


def _tree(ref: str, into: Path) -> Path:
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-f", str(into), ref],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return into


def _variant(
    source: Path, work: Path, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    kb = shutil.copytree(ROOT / "tests" / "data" / "kb", work / "kb")
    server = Server(work / "steady", kb, source=source)
    try:
        server.wait_ready()
        steady = asyncio.run(load(server.url, args.conversations, args.seconds, args.think_s, "s"))
    finally:
        server.stop()
    runs = []
    for n in range(args.runs):
        server = Server(work / f"kill-{n}", kb, source=source)
        try:
            server.wait_ready()
            acked = asyncio.run(
                load_then_kill(
                    server, args.conversations, args.seconds, args.think_s, f"k{n}", args.stall_s
                )
            )
        finally:
            server.stop()
        logged = found(server.database_url)
        runs.append(
            {
                "acked_turns": len(acked.turns),
                "lost_turns": len(acked.turns - logged.turns),
                "acked_feedback": len(acked.feedback),
                "lost_feedback": len(acked.feedback - logged.feedback),
                "integrity": logged.integrity,
            }
        )
        console.print(f"  {source.name} kill run {n}: {runs[-1]}")
    return {
        "turns": len(steady.latencies_ms),
        "errors": steady.errors,
        "p50_ms": round(percentile(steady.latencies_ms, 0.50), 1),
        "p95_ms": round(percentile(steady.latencies_ms, 0.95), 1),
        "kill_runs": runs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the baseline service")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--think-s", type=float, default=0.5)
    parser.add_argument("--stall-s", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    console = Console()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        base = _tree(args.baseline, Path(tmp) / "baseline")
        try:
            results = {
                "current": _variant(ROOT, Path(tmp) / "current-work", args, console),
                "baseline": _variant(base, Path(tmp) / "baseline-work", args, console),
            }
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT)
    current, baseline = results["current"], results["baseline"]
    report = {
        "parameters": {k: str(v) for k, v in vars(args).items()},
        "results": results,
        "p95_ratio_current_over_baseline": round(current["p95_ms"] / baseline["p95_ms"], 3),
    }
    table = Table("tree", "turns", "p50 ms", "p95 ms", "acked turns lost", "acked feedback lost")
    for name, r in results.items():
        lost_t = sum(k["lost_turns"] for k in r["kill_runs"])
        acked_t = sum(k["acked_turns"] for k in r["kill_runs"])
        lost_f = sum(k["lost_feedback"] for k in r["kill_runs"])
        acked_f = sum(k["acked_feedback"] for k in r["kill_runs"])
        table.add_row(
            name,
            str(r["turns"]),
            str(r["p50_ms"]),
            str(r["p95_ms"]),
            f"{lost_t} / {acked_t}",
            f"{lost_f} / {acked_f}",
        )
    console.print(table)
    console.print(f"p95 current / baseline: {report['p95_ratio_current_over_baseline']}")
    console.print(f"wrote {write_result(args.out, 'durability', started, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
