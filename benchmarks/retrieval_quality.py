"""Retrieval quality on public sets, next to simple baselines measured in the same run.

Runs the evaluation suite (the bundled set plus every set in ``../shared/evalsets``, each in its
own cached KB) with the default pipeline and the three baselines (dense on the last customer turn,
dense on the last three turns joined, BM25 on the last turn); judges every case with the confidence
model the service loads (or, with ``--calibrate FILE``, with one fitted in this run by
cross-validation). Writes ``benchmarks/results/retrieval_quality-<YYYYmmdd-HHMMSS>.json`` and a
Markdown table beside it::

    python benchmarks/retrieval_quality.py [--suite ../shared/evalsets] [--calibrate FILE]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from provenance import git_commit, git_dirty, hardware, write_result
from rich.console import Console

from copilot.cli.evaluation import evaluate_suite, suite_json
from copilot.cli.progress import progress_bar
from copilot.kb.retrieve import RetrievalMode
from copilot.kb.suite import BASELINES, SetResult
from copilot.models.loader import force_offline
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def _cell(metrics: dict[str, float], key: str) -> str:
    return f"{metrics[key]:.3f}" if key in metrics else "-"


def markdown(results: list[SetResult], macro: dict[str, float]) -> str:
    """Recall@5 per set: the default, each baseline, and the default's ratio to the best one;
    then ranking, abstention and calibration figures of the default."""
    lines = [
        "| set | default R@5 | " + " | ".join(BASELINES) + " | default / best baseline |",
        "|---|---|" + "---|" * len(BASELINES) + "---|",
    ]
    for r in results:
        if not r.report.metrics.get("n"):
            continue  # nothing to retrieve: a set of out-of-scope cases (abstention only)
        ours = r.report.metrics.get("recall@5", 0.0)
        peers = [r.baselines[b].metrics.get("recall@5", 0.0) for b in BASELINES]
        ratio = ours / max(peers) if max(peers) else float("nan")
        lines.append(
            f"| {r.eval_set.name} | {ours:.3f} | "
            + " | ".join(f"{p:.3f}" for p in peers)
            + f" | {ratio:.2f} |"
        )
    lines += [
        "",
        "| set | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | abstain P | abstain R | answered R@5 "
        "| ECE | p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, lat = r.report.metrics, r.report.latency_ms
        cells = [_cell(m, k) for k in (*KEYS, "abstain_precision", "abstain_recall")]
        cells += [_cell(m, "answered_recall@5"), _cell(m, "ece")]
        lines.append(
            f"| {r.eval_set.name} | "
            + " | ".join(cells)
            + f" | {lat['p50']:.0f} / {lat['p95']:.0f} |"
        )
    cells = [_cell(macro, k) for k in (*KEYS, "abstain_precision", "abstain_recall")]
    cells += [_cell(macro, "answered_recall@5"), _cell(macro, "ece")]
    lines.append("| **macro (public sets)** | " + " | ".join(cells) + " | |")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Run the suite and the baselines; write the JSON result and the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT.parent / "shared" / "evalsets")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--calibrate", type=Path, default=None, help="fit and write the model")
    args = parser.parse_args()
    force_offline()
    settings = Settings(data_dir=args.data_dir)
    started = datetime.now(UTC)
    err = Console(stderr=True)
    with progress_bar(err) as progress:
        results = evaluate_suite(
            settings, args.suite, RetrievalMode.RERANK, True, args.calibrate, progress, err
        )
    data: dict[str, Any] = suite_json(results)
    for entry in data["sets"]:
        # Rankings per case stay with `copilot kb eval --suite DIR --json`; what the reliability
        # plot (notebooks/retrieval_eval.ipynb) needs is kept: confidence, first hit right, and
        # whether the case should abstain.
        entry["judged"] = [
            [
                c["confidence"],
                bool(set(c["ranked_doc_ids"][:1]) & set(c["gold_doc_ids"])),
                not c["gold_doc_ids"],
            ]
            for c in entry.pop("cases")
            if c["confidence"] is not None
        ]
    report = {
        "benchmark": "retrieval_quality",
        "started": started.isoformat(),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "hardware": hardware(),
        "settings": {
            "use_reranker": settings.use_reranker,
            "lexical_weight": settings.lexical_weight,
            "context_turns": settings.context_turns,
            "context_weight": settings.context_weight,
            "confidence_model": str(args.calibrate or settings.confidence_model),
        },
        **data,
    }
    path = write_result(ROOT / "benchmarks" / "results", "retrieval_quality", started, report)
    table = markdown(results, data["macro"])
    path.with_suffix(".md").write_text(table, encoding="utf-8")
    sys.stdout.write(table + f"\nwritten: {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
