"""Retrieval evaluation: recall@k, MRR@10 and nDCG@10 over labelled cases, per language."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from copilot.domain import DialogueTurn, SearchFilters, SearchHit, Speaker
from copilot.errors import EvalCasesError

CUTOFFS = (1, 5, 10)
DEPTH = 10


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
    if not isinstance(gold, list) or not gold:
        raise ValueError("'gold_doc_ids' must be a non-empty list")
    opt = {k: str(obj[k]) if obj.get(k) else None for k in ("language", "client", "kind")}
    return EvalCase(str(obj.get("id", f"line-{line_no}")), turns, frozenset(map(str, gold)), **opt)


def _ndcg(ranked: Sequence[str], gold: frozenset[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:DEPTH]) if d in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), DEPTH)))
    return dcg / ideal


def _mrr(ranked: Sequence[str], gold: frozenset[str]) -> float:
    return next((1 / (i + 1) for i, d in enumerate(ranked[:DEPTH]) if d in gold), 0.0)


def metrics(results: Sequence[CaseResult]) -> dict[str, float]:
    """Recall@1/5/10 (cases with a gold doc in the top k), MRR@10, nDCG@10 and the case count."""
    if not results:
        return {"n": 0.0}
    out = {
        f"recall@{k}": float(
            np.mean([bool(set(r.ranked_doc_ids[:k]) & r.gold_doc_ids) for r in results])
        )
        for k in CUTOFFS
    }
    out["mrr@10"] = float(np.mean([_mrr(r.ranked_doc_ids, r.gold_doc_ids) for r in results]))
    out["ndcg@10"] = float(np.mean([_ndcg(r.ranked_doc_ids, r.gold_doc_ids) for r in results]))
    out["n"] = float(len(results))
    return out


Search = Callable[[Sequence[DialogueTurn], SearchFilters], list[SearchHit]]


def evaluate(
    cases: Sequence[EvalCase],
    search: Search,
    mode: str,
    progress: Callable[[str, int, int], None] | None = None,
) -> EvalReport:
    """Run every case through ``search`` (top ``DEPTH``) and compute the metrics.

    A case with a ``client`` is searched within that client's documents, as a live conversation
    would be.
    """
    results = []
    for i, case in enumerate(cases, start=1):
        start = time.perf_counter()
        hits = search(case.turns, SearchFilters(client=case.client))
        elapsed = (time.perf_counter() - start) * 1000
        ranked = tuple(dict.fromkeys(h.doc_id for h in hits))[:DEPTH]
        results.append(
            CaseResult(case.case_id, case.language, case.kind, ranked, case.gold_doc_ids, elapsed)
        )
        if progress is not None:
            progress("eval", i, len(cases))

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
