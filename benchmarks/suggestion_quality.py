"""Suggestion quality through the running service: dialogues replayed over REST, last turn judged.

For each set a real ``copilot serve`` runs on the set's own KB (see ``served_copilot``). Every case
is replayed turn by turn (``POST /v1/conversations/{id}/turns``, customer and agent turns in order);
the suggestions answering the last customer turn are judged:

* ``gold@1``: the first suggestion is not an abstention and its first evidence is a gold document;
* ``evidence gold@1``: its first evidence is gold, whatever its kind (what confidence predicts);
* abstention: the first suggestion is a ``clarify``, the turn is flagged ``kb_gap``, or none came;
* calibration: share of ``evidence gold@1`` among first suggestions of confidence >= 0.5 and < 0.5
  (a case with empty gold is right when it abstains);
* latency of that last turn, p50 / p95 (client wall time, and the service's ``latency_ms``).

Sets: the demo conversations (no gold: only abstention and confidence), the bundled eval cases and
the demo KB, and the external multi-turn sets. Writes
``benchmarks/results/suggestion_quality-<YYYYmmdd-HHMMSS>.json`` and a Markdown table beside it::

    python benchmarks/suggestion_quality.py [--limit 200] [--evalsets ../shared/evalsets]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from provenance import git_commit, git_dirty, hardware, write_result
from rich.console import Console
from served_copilot import ServedCopilot, serve_kb

from copilot.cli.progress import progress_bar
from copilot.kb.evaluate import load_cases as evaluation_cases

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = ("multiwoz21-followup-en", "multiwoz21-followup-passages-en")
ABSTAIN_KINDS = frozenset({"clarify"})
console = Console(stderr=True)


@dataclass(frozen=True, slots=True)
class Case:
    """One dialogue to replay; ``gold`` None when the set has no labels."""

    case_id: str
    turns: tuple[tuple[str, str], ...]  # (speaker, text), ending with a customer turn
    gold: frozenset[str] | None
    client: str | None
    language: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the service suggested for a case's last customer turn."""

    case_id: str
    kind: str | None
    text: str | None  # the first suggestion's text, cut to 160 characters
    confidence: float | None
    first_doc: str | None
    kb_gap: bool
    n_suggestions: int
    gold: list[str] | None
    abstained: bool
    evidence_gold: bool | None
    hit: bool | None
    wall_ms: float
    service_ms: float


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_cases(path: Path) -> list[Case]:
    """Labelled cases, read (and validated) as `copilot kb eval` reads them."""
    return [
        Case(
            c.case_id,
            tuple((t.speaker.value, t.text) for t in c.turns),
            c.gold_doc_ids,
            c.client,
            c.language,
        )
        for c in evaluation_cases(path)
    ]


def load_conversations(path: Path) -> list[Case]:
    """The demo conversations (``turns`` of speaker / text), unlabelled; trailing agent turns are
    dropped so that the last turn replayed is the customer's."""
    out = []
    for r in _jsonl(path):
        turns = [(t["speaker"], t["text"]) for t in r["turns"]]
        while turns and turns[-1][0] != "customer":
            turns.pop()
        out.append(Case(r["conversation_id"], tuple(turns), None, r["client"], r["language"]))
    return out


def sample(cases: list[Case], limit: int) -> list[Case]:
    """At most ``limit`` cases, drawn with ``random.Random(13)``, in file order."""
    if len(cases) <= limit:
        return cases
    keep = sorted(random.Random(13).sample(range(len(cases)), limit))
    return [cases[i] for i in keep]


def replay(http: httpx.Client, case: Case, tag: str) -> Outcome:
    """Post every turn of ``case`` in order; judge the response to the last customer turn."""
    cid = re.sub(r"[^A-Za-z0-9_.:@-]", "_", f"bench-{tag}-{case.case_id}")[:128]
    last = max(i for i, (speaker, _) in enumerate(case.turns) if speaker == "customer")
    body: dict[str, Any] = {}
    wall_ms = 0.0
    for i, (speaker, text) in enumerate(case.turns):
        turn: dict[str, Any] = {"turn_id": f"t{i}", "speaker": speaker, "text": text}
        turn |= {"client": case.client, "language": case.language}
        start = time.perf_counter()
        r = http.post(f"/v1/conversations/{cid}/turns", json=turn)
        r.raise_for_status()
        if i == last:
            wall_ms = (time.perf_counter() - start) * 1000
            body = r.json()
    http.post(f"/v1/conversations/{cid}/end").raise_for_status()
    if body.get("type") != "suggestions":
        raise RuntimeError(f"case {case.case_id}: last customer turn answered {body!r}")
    suggestions: list[dict[str, Any]] = body["suggestions"]
    first = suggestions[0] if suggestions else None
    kind = first["kind"] if first else None
    evidence = first["evidence"] if first else []
    doc = evidence[0]["doc_id"] if evidence else None
    abstained = first is None or kind in ABSTAIN_KINDS or bool(body["kb_gap"])
    evidence_gold = hit = None
    if case.gold is not None:
        evidence_gold = doc in case.gold if case.gold else abstained
        hit = (not abstained and doc in case.gold) if case.gold else abstained
    return Outcome(
        case.case_id,
        kind,
        first["text"][:160] if first else None,
        first["confidence"] if first else None,
        doc,
        bool(body["kb_gap"]),
        len(suggestions),
        sorted(case.gold) if case.gold is not None else None,
        abstained,
        evidence_gold,
        hit,
        round(wall_ms, 1),
        float(body["latency_ms"]),
    )


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(np.mean(present)), 3) if present else None


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Counts, gold shares, abstention, calibration and last-turn latency of one set."""
    conf = [o.confidence for o in outcomes if o.confidence is not None]
    wall = [o.wall_ms for o in outcomes]
    summary: dict[str, Any] = {
        "n": len(outcomes),
        "abstention_rate": _share([o.abstained for o in outcomes]),
        "kb_gap_rate": _share([o.kb_gap for o in outcomes]),
        "first_kind": dict(Counter(str(o.kind) for o in outcomes).most_common()),
        "confidence": {
            "mean": _mean(conf),
            "quartiles": [round(float(q), 3) for q in np.percentile(conf, [25, 50, 75])]
            if conf
            else None,
            "share_ge_0.5": _share([c >= 0.5 for c in conf]),
        },
        "latency_ms": {
            "wall_p50": round(float(np.percentile(wall, 50)), 1) if wall else None,
            "wall_p95": round(float(np.percentile(wall, 95)), 1) if wall else None,
            "service_p50": round(float(np.percentile([o.service_ms for o in outcomes], 50)), 1)
            if outcomes
            else None,
        },
    }
    labelled = [o for o in outcomes if o.hit is not None]
    if not labelled:
        return summary
    high = [o for o in labelled if o.confidence is not None and o.confidence >= 0.5]
    low = [o for o in labelled if o.confidence is not None and o.confidence < 0.5]
    summary |= {
        "gold@1": _share([bool(o.hit) for o in labelled]),
        "evidence_gold@1": _share([bool(o.evidence_gold) for o in labelled]),
        "abstained_with_gold_evidence": sum(
            o.abstained and bool(o.evidence_gold) for o in labelled
        ),
        "calibration": {
            "n_ge_0.5": len(high),
            "mean_confidence_ge_0.5": _mean([o.confidence for o in high]),
            "accuracy_ge_0.5": _share([bool(o.evidence_gold) for o in high]),
            "n_lt_0.5": len(low),
            "mean_confidence_lt_0.5": _mean([o.confidence for o in low]),
            "accuracy_lt_0.5": _share([bool(o.evidence_gold) for o in low]),
        },
    }
    return summary


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value)


def markdown(sets: dict[str, dict[str, Any]]) -> str:
    """One row per set (gold@1, abstention, calibration, latency), then one per unlabelled case."""
    head = (
        "| Set | n | gold@1 | evidence gold@1 | abstain | conf>=0.5: acc (mean conf) | n | "
        "conf<0.5: acc (mean conf) | n | p50 ms | p95 ms |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for name, s in sets.items():
        cal = s.get("calibration", {})
        cells = [s["n"], s.get("gold@1"), s.get("evidence_gold@1"), s["abstention_rate"]]
        for side in ("ge", "lt"):
            acc, mean = cal.get(f"accuracy_{side}_0.5"), cal.get(f"mean_confidence_{side}_0.5")
            cells += [f"{_fmt(acc)} ({_fmt(mean)})" if cal else None, cal.get(f"n_{side}_0.5")]
        cells += [_ms(s["latency_ms"][k]) for k in ("wall_p50", "wall_p95")]
        rows.append(f"| {name} | " + " | ".join(_fmt(c) for c in cells) + " |")
    for name, s in sets.items():
        if "gold@1" in s:
            continue
        rows += [f"\n{name} (no gold), last customer turn:\n"]
        rows += [
            "| Case | first kind | confidence | kb_gap | first evidence |",
            "|---|---|---:|---|---|",
        ]
        for c in s["cases"]:
            cells = [c["case_id"], c["kind"], c["confidence"], c["kb_gap"], c["first_doc"]]
            rows.append("| " + " | ".join(_fmt(x) for x in cells) + " |")
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Replay every set against its own service, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=200, help="cases per set at most")
    parser.add_argument("--evalsets", type=Path, default=ROOT.parent / "shared/evalsets")
    parser.add_argument("--data-root", type=Path, default=ROOT / "data/bench-suggest")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    machine = hardware()
    tag = uuid.uuid4().hex[:8]
    kb_dir = ROOT / "knowledge_base"
    # (KB name, KB source, [(set name, cases)]): sets sharing a KB share one service.
    plan: list[tuple[str, Path, list[tuple[str, list[Case]]]]] = [
        (
            "demo",
            kb_dir / "demo",
            [
                ("demo-conversations", load_conversations(kb_dir / "demo_conversations.jsonl")),
                ("demo-eval", load_cases(kb_dir / "eval/cases.jsonl")),
            ],
        )
    ]
    for name in EXTERNAL:
        folder = args.evalsets / name
        plan.append((name, folder / "kb.jsonl", [(name, load_cases(folder / "cases.jsonl"))]))
    sets: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    with progress_bar(console) as progress:
        for kb_name, source, groups in plan:
            with serve_kb(kb_name, source, args.data_root) as served:
                services[kb_name] = _service_info(served, source)
                with httpx.Client(base_url=served.url, timeout=args.timeout) as http:
                    for set_name, all_cases in groups:
                        cases = sample(all_cases, args.limit)
                        outcomes = []
                        for i, case in enumerate(cases, start=1):
                            outcomes.append(replay(http, case, tag))
                            progress(set_name, i, len(cases))
                        sets[set_name] = {
                            "kb": kb_name,
                            "n_cases_in_set": len(all_cases),
                            **summarise(outcomes),
                            "cases": [asdict(o) for o in outcomes],
                        }
    table = markdown(sets)
    print(table)
    report = {
        "benchmark": "suggestion_quality",
        "date": started.isoformat(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": {**machine, "load_average_at_end": list(os.getloadavg())},
        "parameters": {"limit": args.limit, "sample_seed": 13, "services": services},
        "results": sets,
    }
    path = write_result(args.out, "suggestion_quality", started, report)
    path.with_suffix(".md").write_text(
        f"# suggestion_quality {started:%Y-%m-%d %H:%M} UTC\n\n{table}"
    )
    print(f"wrote {path}")
    return 0


def _service_info(served: ServedCopilot, source: Path) -> dict[str, Any]:
    shown = source.relative_to(ROOT) if source.is_relative_to(ROOT) else source
    return {
        "kb_source": str(shown),
        "data_dir": str(served.data_dir.relative_to(ROOT))
        if served.data_dir.is_relative_to(ROOT)
        else str(served.data_dir),
        "kb_passages": served.kb_passages,
        "startup_s": round(served.startup_s, 1),
        "ingested_now": served.ingested,
    }


if __name__ == "__main__":
    sys.exit(main())
