"""Precision and recall of conversational-move recognition on the labelled set, thresholds chosen
on held-out halves.

The set (``knowledge_base/eval/moves.jsonl``: ``text``, ``language``, ``move`` or null for a KB
question) is split in two halves, stratified by move and language. For each half, the two
thresholds (pure moves, escalating moves) that maximise macro F1 on the *other* half are applied,
so every figure is measured on utterances the thresholds were not chosen on. Also reported: the
thresholds chosen on the whole set (what settings use), and the figures they give (in-sample).

Writes ``benchmarks/results/moves_quality-<YYYYmmdd-HHMMSS>.json``::

    python benchmarks/moves_quality.py
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from provenance import git_commit, git_dirty, hardware, write_result

from copilot.models.embedding import load_embedder
from copilot.models.loader import force_offline, resolve
from copilot.settings import Settings
from copilot.suggest.moves import Language, MoveDetector, MoveMatch, default_moves_path

ROOT = Path(__file__).resolve().parent.parent
GRID = [round(float(x), 3) for x in np.arange(0.80, 0.951, 0.005)]


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled utterance; ``move`` None for a KB question."""

    text: str
    language: str
    move: str | None


def load_cases(path: Path) -> list[Case]:
    """The labelled set, one JSON object per line."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Case(r["text"], r["language"], r["move"]) for r in rows]


Features = list[tuple[dict[str, tuple[float, Language]], bool, frozenset[str]]]


def features(
    detector: MoveDetector, cases: Sequence[Case], vectors: NDArray[np.float32]
) -> Features:
    """Per case, the move scores and whether the turn is pure: what thresholds act on."""
    return [
        (detector.scores(v), not detector.residual(c.text), detector.cues(c.text))
        for c, v in zip(cases, vectors, strict=True)
    ]


def predict(detector: MoveDetector, feats: Features) -> list[str | None]:
    """The recognised move of each case (None: not a move) with the detector's thresholds."""
    out: list[str | None] = []
    for scores, pure, cued in feats:
        match: MoveMatch | None = detector.decide(scores, pure, cued)
        out.append(None if match is None else match.move)
    return out


def per_move(
    moves: Sequence[str], gold: Sequence[str | None], pred: Sequence[str | None]
) -> dict[str, dict[str, float | int]]:
    """Precision, recall and F1 per move, with support (gold count) and predicted count."""
    table: dict[str, dict[str, float | int]] = {}
    for m in moves:
        tp = sum(g == m and p == m for g, p in zip(gold, pred, strict=True))
        n_pred = sum(p == m for p in pred)
        n_gold = sum(g == m for g in gold)
        precision = tp / n_pred if n_pred else 1.0
        recall = tp / n_gold if n_gold else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[m] = {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
            "support": n_gold,
            "predicted": n_pred,
        }
    caught = sum(g is None and p is not None for g, p in zip(gold, pred, strict=True))
    table["kb_questions_caught"] = {"count": caught, "of": sum(g is None for g in gold)}
    return table


def _macro_f1(moves: Sequence[str], gold: list[str | None], pred: list[str | None]) -> float:
    table = per_move(moves, gold, pred)
    return float(np.mean([float(table[m]["f1"]) for m in moves]))


def choose(detector: MoveDetector, cases: Sequence[Case], feats: Features) -> tuple[float, float]:
    """The (pure, escalation) thresholds with the best macro F1 on ``cases``; ties: the higher."""
    gold = [c.move for c in cases]
    best = (-1.0, 0.0, 0.0)
    for t in GRID:
        for e in GRID:
            detector.threshold, detector.escalation_threshold = t, e
            f1 = _macro_f1(detector.moves, gold, predict(detector, feats))
            best = max(best, (f1, t, e))
    return best[1], best[2]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print and write the JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=Path, default=ROOT / "knowledge_base/eval/moves.jsonl")
    parser.add_argument("--moves", type=Path, default=default_moves_path())
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    machine = hardware()
    force_offline()
    settings = Settings(_env_file=None)
    spec = resolve(
        settings.embedding_model or "multilingual-e5-small", ROOT / "models/manifest.toml"
    )
    embedder = load_embedder(spec, threads=settings.model_threads)
    detector = MoveDetector(args.moves, embedder, 0.0, 0.0)
    cases = load_cases(args.cases)
    vectors = embedder.embed_queries([c.text for c in cases])
    feats_all = features(detector, cases, vectors)
    # Two halves, stratified: alternate within each (move, language) group.
    seen: dict[tuple[str | None, str], int] = {}
    half = []
    for c in cases:
        k = (c.move, c.language)
        half.append(seen.get(k, 0) % 2)
        seen[k] = seen.get(k, 0) + 1
    idx = [np.array([i for i, h in enumerate(half) if h == f]) for f in (0, 1)]
    gold_all: list[str | None] = []
    pred_all: list[str | None] = []
    folds = []
    for f in (0, 1):
        train, test = idx[1 - f], idx[f]
        t, e = choose(detector, [cases[i] for i in train], [feats_all[i] for i in train])
        detector.threshold, detector.escalation_threshold = t, e
        test_cases = [cases[i] for i in test]
        pred = predict(detector, [feats_all[i] for i in test])
        gold = [c.move for c in test_cases]
        folds.append(
            {
                "threshold": t,
                "escalation_threshold": e,
                "held_out": per_move(detector.moves, gold, pred),
            }
        )
        gold_all += gold
        pred_all += pred
    held_out = per_move(detector.moves, gold_all, pred_all)
    t, e = choose(detector, cases, feats_all)
    detector.threshold, detector.escalation_threshold = t, e
    in_sample = per_move(detector.moves, [c.move for c in cases], predict(detector, feats_all))
    errors = [
        {"text": c.text, "gold": c.move, "predicted": p}
        for c, p in zip(cases, predict(detector, feats_all), strict=True)
        if c.move != p
    ]
    print(f"{'move':<12}{'precision':>10}{'recall':>8}{'support':>9}   (held-out halves)")
    for m in detector.moves:
        r = held_out[m]
        print(f"{m:<12}{r['precision']:>10}{r['recall']:>8}{r['support']:>9}")
    print("kb questions caught:", held_out["kb_questions_caught"])
    print("folds:", [(fo["threshold"], fo["escalation_threshold"]) for fo in folds])
    print(f"whole set: threshold={t} escalation_threshold={e}")
    for err in errors:
        print("  miss", err)
    results: dict[str, Any] = {
        "held_out": held_out,
        "folds": folds,
        "whole_set": {"threshold": t, "escalation_threshold": e, "in_sample": in_sample},
        "errors_at_whole_set_thresholds": errors,
    }
    report = {
        "benchmark": "moves_quality",
        "date": started.isoformat(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "parameters": {
            "cases": str(args.cases.relative_to(ROOT))
            if args.cases.is_relative_to(ROOT)
            else str(args.cases),
            "n_cases": len(cases),
            "embedding_model": embedder.name,
            "grid": [GRID[0], GRID[-1], 0.005],
        },
        "results": results,
    }
    print(f"wrote {write_result(args.out, 'moves_quality', started, report)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
