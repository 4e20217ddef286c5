"""Gap grouping quality: precision and recall of "same group" on labelled question pairs.

The supervisor console groups KB-gap questions by meaning (`copilot.service.gap_groups.cluster` over
the KB's query embedder's unit vectors, the same calls `ReportService.gaps` makes). This script
embeds the questions of ``tests/data/gap_pairs.jsonl`` (paraphrase and non-paraphrase pairs of
contact-centre questions in es, pt and en) and, at each threshold of a grid, measures:

- ``pairwise``: the two questions alone are clustered; "same group" iff they form one group.
- ``pooled``: all questions of a language are clustered together, as the service clusters a
  day's gaps (greedy, order-dependent), over several seeded shuffles; "same group" iff both
  questions land in one group. Centroid drift shows here: a group that grows can swallow an
  unrelated question.

A positive is a pair put in one group. Precision: of the pairs grouped, the share that are
paraphrases; recall: of the paraphrase pairs, the share grouped. The threshold is chosen
precision-first on ``pooled``: the one with the highest pooled precision among those whose pooled
recall is at least ``--min-recall`` (a grouping that keeps most paraphrases apart groups nothing).
F1-best is reported beside it but not used: the pairs are half paraphrases, so F1 peaks where
nearly everything is merged (precision near 0.5, no better than chance).

The same grid is also measured with the previous rule (join the group whose normalised centroid
is close enough) as ``pooled_centroid``, for comparison.

Run: ``.venv/bin/python benchmarks/gap_grouping.py``; writes
``benchmarks/results/gap_grouping-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from provenance import git_commit, git_dirty, hardware, write_result

from copilot.models.embedding import Embedder
from copilot.models.loader import force_offline
from copilot.models.registry import embedder_from_settings
from copilot.service.gap_groups import cluster
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
GRID = [round(float(x), 3) for x in np.arange(0.80, 0.971, 0.005)]
SHUFFLES = 20


@dataclass(frozen=True, slots=True)
class Pair:
    """Two customer questions in one language; ``same`` when they ask the same thing."""

    language: str
    a: str
    b: str
    same: bool


def load_pairs(path: Path) -> list[Pair]:
    """The labelled pairs of a JSONL file (``language``, ``a``, ``b``, ``same``)."""
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return [Pair(r["language"], r["a"], r["b"], bool(r["same"])) for r in rows]


def _scores(pairs: Sequence[Pair], grouped: Sequence[bool]) -> dict[str, float | int]:
    tp = sum(p.same and g for p, g in zip(pairs, grouped, strict=True))
    fp = sum((not p.same) and g for p, g in zip(pairs, grouped, strict=True))
    fn = sum(p.same and not g for p, g in zip(pairs, grouped, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def pairwise(pairs: Sequence[Pair], vec: dict[str, NDArray[np.float32]], t: float) -> list[bool]:
    """Whether each pair, clustered alone, forms one group."""
    return [len(cluster(np.stack([vec[p.a], vec[p.b]]), t)) == 1 for p in pairs]


def centroid_cluster(vectors: NDArray[np.float32], threshold: float) -> list[list[int]]:
    """The previous rule: join the group whose normalised centroid has cosine >= threshold."""
    groups: list[list[int]] = []
    sums = np.zeros((0, vectors.shape[1]), np.float32)
    for i, v in enumerate(vectors):
        if groups:
            sims = (sums / np.linalg.norm(sums, axis=1, keepdims=True)) @ v
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                groups[best].append(i)
                sums[best] += v
                continue
        groups.append([i])
        sums = np.vstack([sums, v[None, :]])
    return groups


def pooled(
    pairs: Sequence[Pair],
    vec: dict[str, NDArray[np.float32]],
    t: float,
    seed: int,
    rule: Callable[[NDArray[np.float32], float], list[list[int]]] = cluster,
) -> list[bool]:
    """Whether each pair lands in one group when its language's questions are clustered together."""
    group_of: dict[tuple[str, str], int] = {}
    rng = random.Random(seed)
    for language in sorted({p.language for p in pairs}):
        texts = list(dict.fromkeys(x for p in pairs if p.language == language for x in (p.a, p.b)))
        rng.shuffle(texts)
        for g, members in enumerate(rule(np.stack([vec[x] for x in texts]), t)):
            for i in members:
                group_of[(language, texts[i])] = g
    return [group_of[(p.language, p.a)] == group_of[(p.language, p.b)] for p in pairs]


def _by_language(pairs: Sequence[Pair], grouped: Sequence[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {"all": _scores(pairs, grouped)}
    for language in sorted({p.language for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p.language == language]
        out[language] = _scores([pairs[i] for i in idx], [grouped[i] for i in idx])
    return out


def measure(pairs: Sequence[Pair], vec: dict[str, NDArray[np.float32]], t: float) -> dict[str, Any]:
    """Pairwise and pooled scores at threshold ``t`` (pooled summed over `SHUFFLES` orders)."""
    runs = [pooled(pairs, vec, t, seed) for seed in range(SHUFFLES)]
    old = [pooled(pairs, vec, t, seed, centroid_cluster) for seed in range(SHUFFLES)]
    many = [p for _ in runs for p in pairs]
    return {
        "threshold": t,
        "pairwise": _by_language(pairs, pairwise(pairs, vec, t)),
        "pooled": _by_language(many, [g for run in runs for g in run]),
        "pooled_centroid": {"all": _scores(many, [g for run in old for g in run])},
    }


def choose(rows: Sequence[dict[str, Any]], min_recall: float) -> dict[str, Any] | None:
    """The threshold of highest pooled precision among those with pooled recall >= min_recall."""
    kept = [r for r in rows if r["pooled"]["all"]["recall"] >= min_recall]
    if not kept:
        return None
    return max(kept, key=lambda r: (r["pooled"]["all"]["precision"], r["pooled"]["all"]["recall"]))


def _embed(embedder: Embedder, texts: list[str]) -> dict[str, NDArray[np.float32]]:
    vectors = embedder.embed_queries(texts)
    return dict(zip(texts, vectors, strict=True))


def main(argv: Sequence[str] | None = None) -> int:
    """Measure, print and write the JSON; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=Path, default=ROOT / "tests/data/gap_pairs.jsonl")
    parser.add_argument("--min-recall", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    machine = hardware()
    force_offline()
    settings = Settings(_env_file=None, models_manifest=ROOT / "models/manifest.toml")
    embedder = embedder_from_settings(settings)
    pairs = load_pairs(args.pairs)
    vec = _embed(embedder, list(dict.fromkeys(x for p in pairs for x in (p.a, p.b))))
    rows = [measure(pairs, vec, t) for t in GRID]
    chosen = choose(rows, args.min_recall)
    best_f1 = max(rows, key=lambda r: (r["pooled"]["all"]["f1"], r["threshold"]))
    current = settings.gap_cluster_similarity
    cosines = {
        "paraphrase": [float(vec[p.a] @ vec[p.b]) for p in pairs if p.same],
        "different": [float(vec[p.a] @ vec[p.b]) for p in pairs if not p.same],
    }
    report = {
        "benchmark": "gap_grouping",
        "started_at": started.isoformat(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": machine,
        "embedding_model": embedder.name,
        "embedding_dim": embedder.dim,
        "pairs_file": str(
            args.pairs.relative_to(ROOT) if args.pairs.is_relative_to(ROOT) else args.pairs
        ),
        "pairs": {
            lang: {
                "paraphrase": sum(p.same for p in pairs if p.language == lang),
                "different": sum(not p.same for p in pairs if p.language == lang),
            }
            for lang in sorted({p.language for p in pairs})
        },
        "shuffles": SHUFFLES,
        "rule": f"highest pooled precision among thresholds with pooled recall >= "
        f"{args.min_recall} (precision first)",
        "setting_at_run": current,
        "chosen": chosen,
        "best_f1": best_f1,
        "cosine_quantiles": {
            k: [round(float(q), 4) for q in np.quantile(v, [0.0, 0.1, 0.5, 0.9, 1.0])]
            for k, v in cosines.items()
        },
        "grid": rows,
    }
    path = write_result(args.out, "gap_grouping", started, report)
    for row in rows:
        pw, po = row["pairwise"]["all"], row["pooled"]["all"]
        print(
            f"t={row['threshold']:.3f} pairwise P={pw['precision']:.3f} R={pw['recall']:.3f} "
            f"pooled P={po['precision']:.3f} R={po['recall']:.3f} F1={po['f1']:.3f} "
            f"(centroid rule P={row['pooled_centroid']['all']['precision']:.3f} "
            f"R={row['pooled_centroid']['all']['recall']:.3f})"
        )
    print(
        f"chosen: {None if chosen is None else chosen['threshold']}  "
        f"best F1: {best_f1['threshold']}  written: {path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
