"""Retrieval evaluation over labelled cases: ranking quality, abstention and calibration.

A case with an empty gold list is one the KB cannot answer: the right behaviour is to abstain.
Ranking metrics (recall@k, MRR@10, nDCG@10) are computed over the answerable cases; abstention
precision / recall over all; the expected calibration error compares each case's confidence with
whether its first hit is gold.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from copilot.domain import Confidence, DialogueTurn, SearchFilters, SearchHit, Speaker
from copilot.errors import EvalCasesError

CUTOFFS = (1, 5, 10)
DEPTH = 10
ECE_BINS = 10


@dataclass(frozen=True, slots=True)
class EvalCase:
    """A labelled query: a text or a dialogue, and the documents that answer it."""

    case_id: str
    turns: tuple[DialogueTurn, ...]
    gold_doc_ids: frozenset[str]
    language: str | None = None
    client: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The ranking one case got."""

    case_id: str
    language: str | None
    kind: str | None
    ranked_doc_ids: tuple[str, ...]
    gold_doc_ids: frozenset[str]
    latency_ms: float
    confidence: Confidence | None = None

    @property
    def top_correct(self) -> bool:
        """Whether the first hit answers the case (never, for a case that should abstain)."""
        return bool(self.ranked_doc_ids) and self.ranked_doc_ids[0] in self.gold_doc_ids


@dataclass(slots=True)
class EvalReport:
    """Metrics overall, per language and per kind, with each case's ranking."""

    mode: str
    metrics: dict[str, float]
    by_language: dict[str, dict[str, float]]
    by_kind: dict[str, dict[str, float]]
    latency_ms: dict[str, float]
    cases: list[CaseResult] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """Plain JSON form: metric keys such as ``recall@5`` and ``mrr@10``, and ``cases``."""
        return {
            "mode": self.mode,
            **self.metrics,
            "by_language": self.by_language,
            "by_kind": self.by_kind,
            "latency_ms": self.latency_ms,
            "cases": [
                {
                    "id": c.case_id,
                    "language": c.language,
                    "ranked_doc_ids": list(c.ranked_doc_ids),
                    "gold_doc_ids": sorted(c.gold_doc_ids),
                    "hit": bool(set(c.ranked_doc_ids) & c.gold_doc_ids),
                    "abstained": c.confidence.abstain if c.confidence else None,
                    "confidence": round(c.confidence.value, 4) if c.confidence else None,
                }
                for c in self.cases
            ],
        }


def load_cases(path: Path) -> list[EvalCase]:
    """Read cases from JSONL: ``id``, ``query`` or ``history``, ``gold_doc_ids`` (+ ``language``,
    ``client``).

    Raises:
        EvalCasesError: The file is missing, or a line is malformed (the message names the line).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalCasesError(f"cannot read cases file {path}: {exc.strerror or exc}") from exc
    cases = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cases.append(_parse_case(json.loads(line), no))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalCasesError(f"{path}:{no}: {exc}") from exc
    if not cases:
        raise EvalCasesError(f"{path}: no cases")
    return cases


def _parse_case(obj: dict[str, object], line_no: int) -> EvalCase:
    if "history" in obj:
        history = obj["history"]
        if not isinstance(history, list) or not history:
            raise ValueError("'history' must be a non-empty list of turns")
        turns = tuple(DialogueTurn(Speaker(str(t["role"])), str(t["text"])) for t in history)
    elif "query" in obj:
        turns = (DialogueTurn(Speaker.CUSTOMER, str(obj["query"])),)
    else:
        raise ValueError("a case needs 'query' or 'history'")
    gold = obj.get("gold_doc_ids")
    if not isinstance(gold, list):
        raise ValueError("'gold_doc_ids' must be a list (empty: the KB cannot answer the case)")
    opt = {k: str(obj[k]) if obj.get(k) else None for k in ("language", "client", "kind")}
    return EvalCase(str(obj.get("id", f"line-{line_no}")), turns, frozenset(map(str, gold)), **opt)


def _ndcg(ranked: Sequence[str], gold: frozenset[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:DEPTH]) if d in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), DEPTH)))
    return dcg / ideal


def _mrr(ranked: Sequence[str], gold: frozenset[str]) -> float:
    return next((1 / (i + 1) for i, d in enumerate(ranked[:DEPTH]) if d in gold), 0.0)


def metrics(results: Sequence[CaseResult]) -> dict[str, float]:
    """Ranking metrics over answerable cases; abstention and calibration when cases carry them.

    Keys: ``recall@1/5/10``, ``mrr@10``, ``ndcg@10`` and ``n`` (answerable cases); with confidences,
    ``answered_recall@5`` (recall@5 counting an abstention as a miss), ``abstain_rate``, ``ece``
    and, when some cases should abstain, ``n_abstain``, ``abstain_precision`` and
    ``abstain_recall``.
    """
    answerable = [r for r in results if r.gold_doc_ids]
    out: dict[str, float] = {}
    if answerable:
        for k in CUTOFFS:
            out[f"recall@{k}"] = float(np.mean([_hit(r, k) for r in answerable]))
        out["mrr@10"] = float(np.mean([_mrr(r.ranked_doc_ids, r.gold_doc_ids) for r in answerable]))
        out["ndcg@10"] = float(
            np.mean([_ndcg(r.ranked_doc_ids, r.gold_doc_ids) for r in answerable])
        )
    out["n"] = float(len(answerable))
    judged = [r for r in results if r.confidence is not None]
    if judged:
        out.update(_abstention(judged))
        out["ece"] = expected_calibration_error(
            [r.confidence.value for r in judged if r.confidence], [r.top_correct for r in judged]
        )
    return out


def _hit(result: CaseResult, k: int) -> bool:
    return bool(set(result.ranked_doc_ids[:k]) & result.gold_doc_ids)


def _abstention(judged: Sequence[CaseResult]) -> dict[str, float]:
    abstained = [bool(r.confidence and r.confidence.abstain) for r in judged]
    should = [not r.gold_doc_ids for r in judged]
    answerable = [(r, a) for r, a, s in zip(judged, abstained, should, strict=True) if not s]
    out = {"abstain_rate": float(np.mean(abstained))}
    if answerable:
        out["answered_recall@5"] = float(np.mean([_hit(r, 5) and not a for r, a in answerable]))
    if any(should):
        right = sum(a and s for a, s in zip(abstained, should, strict=True))
        out["n_abstain"] = float(sum(should))
        out["abstain_recall"] = right / sum(should)
        out["abstain_precision"] = right / sum(abstained) if any(abstained) else 0.0
    return out


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool]) -> float:
    """Mean |accuracy - confidence| over ``ECE_BINS`` equal-width bins, weighted by bin size."""
    if not confidences:
        return 0.0
    conf = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    ok = np.asarray(correct, dtype=float)
    bins = np.minimum((conf * ECE_BINS).astype(int), ECE_BINS - 1)
    error = 0.0
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            error += inside.sum() * abs(ok[inside].mean() - conf[inside].mean())
    return float(error / len(conf))


Search = Callable[[Sequence[DialogueTurn], SearchFilters], list[SearchHit]]
Judge = Callable[[Sequence[DialogueTurn], Sequence[SearchHit]], Confidence]
"""The confidence the service would show for a turn's hits (the CLI passes the suggest layer's)."""


def evaluate(
    cases: Sequence[EvalCase],
    search: Search,
    mode: str,
    progress: Callable[[str, int, int], None] | None = None,
    judge: Judge | None = None,
) -> EvalReport:
    """Run every case through ``search`` (top ``DEPTH``) and compute the metrics.

    A case with a ``client`` is searched within that client's documents, as a live conversation
    would be. With a ``judge``, each case also gets the confidence and abstention decision that the
    service would make; its time counts in the latency.
    """
    results = []
    for i, case in enumerate(cases, start=1):
        start = time.perf_counter()
        hits = search(case.turns, SearchFilters(client=case.client))
        confidence = judge(case.turns, hits) if judge is not None else None
        elapsed = (time.perf_counter() - start) * 1000
        ranked = tuple(dict.fromkeys(h.doc_id for h in hits))[:DEPTH]
        results.append(
            CaseResult(
                case.case_id,
                case.language,
                case.kind,
                ranked,
                case.gold_doc_ids,
                elapsed,
                confidence,
            )
        )
        if progress is not None:
            progress("eval", i, len(cases))

    return summarise(mode, results)


def summarise(mode: str, results: list[CaseResult]) -> EvalReport:
    """The report of a list of case results (also for results re-judged by another model)."""

    def grouped(key: Callable[[CaseResult], str | None]) -> dict[str, dict[str, float]]:
        groups = sorted({key(r) or "unknown" for r in results})
        return {g: metrics([r for r in results if (key(r) or "unknown") == g]) for g in groups}

    latencies = np.array([r.latency_ms for r in results])
    return EvalReport(
        mode=mode,
        metrics=metrics(results),
        by_language=grouped(lambda r: r.language),
        by_kind=grouped(lambda r: r.kind),
        latency_ms={
            "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)),
            "mean": float(latencies.mean()),
        },
        cases=results,
    )
