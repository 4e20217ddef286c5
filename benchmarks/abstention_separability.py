"""How well single scores of the embedder separate questions the KB answers from those it does not.

Issue 9 asks for abstention on 70% of the near-domain out-of-scope questions (banking77) at an
in-scope recall@5 cost of at most 0.03. The calibrated confidence can only combine what its
features know; this benchmark measures the ceiling of the scores themselves, per public set with
should-abstain cases (empty ``gold_doc_ids``), in one run:

- ``passage``: the best cosine of the last customer turn with any passage (what the index holds,
  and the confidence's strongest feature today);
- ``sentence``: the best cosine with any sentence of any passage (sentences: the passage's plain
  sentences cut again at semicolons), the same model, one vector per sentence;
- ``sentence_crowded``: the sentence cosine less half of that sentence's best cosine with another
  passage's sentence (a sentence in a crowded region proves less).

For each: AUROC (in-scope above out-of-scope), and the share of out-of-scope cases abstained on at
the lowest threshold whose in-scope recall@5 cost stays within 0.03 (ranking by passage cosine for
every score, so only the abstention differs). Run::

    .venv/bin/python benchmarks/abstention_separability.py   # benchmarks/results/abstention_*
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from provenance import git_commit, git_dirty, hardware, write_result  # sibling module

from copilot.models.embedding import Embedder
from copilot.models.registry import embedder_from_settings
from copilot.settings import Settings
from copilot.suggest.sentences import plain_sentences

ROOT = Path(__file__).resolve().parent.parent
SETS = ROOT.parent / "shared" / "evalsets"
MAX_COST = 0.03
_CLAUSE = re.compile(r"\s*;\s*")
_EDGES = "\"'“”«» .;:"


def sentences(text: str, language: str) -> list[str]:
    """A passage's sentences, cut again at semicolons; quotes and edge punctuation stripped."""
    out: list[str] = []
    for sentence in plain_sentences(text, language):
        out.extend(p.strip(_EDGES) for p in _CLAUSE.split(sentence))
    return [p for p in out if p] or [text]


def separation(
    score: NDArray[np.float64], in_scope: NDArray[np.bool_], hit: NDArray[np.bool_]
) -> dict[str, float]:
    """AUROC, and the out-of-scope share abstained at the strictest threshold within the cost."""
    a, b = score[in_scope], score[~in_scope]
    auroc = float((a[:, None] > b[None, :]).mean() + 0.5 * (a[:, None] == b[None, :]).mean())
    recall = float(hit[in_scope].mean())
    best = {"abstained_out_of_scope": 0.0, "recall_cost": 0.0}
    for threshold in np.unique(score):
        answered = score >= threshold
        cost = recall - float((hit & answered)[in_scope].mean())
        if cost > MAX_COST:
            break
        best = {
            "abstained_out_of_scope": float((~answered)[~in_scope].mean()),
            "recall_cost": cost,
        }
    return {"auroc": auroc, **best}


def measure(folder: Path, embedder: Embedder) -> dict[str, Any]:
    """Every score of one set."""
    kb = [json.loads(line) for line in (folder / "kb.jsonl").open()]
    cases = [json.loads(line) for line in (folder / "cases.jsonl").open()]
    passages = embedder.embed_passages([f"{p['title']}\n{p['text']}" for p in kb])
    pieces, owner = [], []
    for n, p in enumerate(kb):
        found = sentences(p["text"], p.get("language", "en"))
        pieces.extend(found)
        owner.extend([n] * len(found))
    owners = np.array(owner)
    vectors = embedder.embed_passages(pieces)
    queries = embedder.embed_queries([c["history"][-1]["text"] for c in cases])
    ids = [p["id"] for p in kb]
    in_scope = np.array([bool(c["gold_doc_ids"]) for c in cases])
    by_passage = queries @ passages.T
    top5 = np.argsort(-by_passage, axis=1)[:, :5]
    hit = np.array(
        [
            bool(set(c["gold_doc_ids"]) & {ids[k] for k in t})
            for c, t in zip(cases, top5, strict=True)
        ]
    )
    by_sentence = queries @ vectors.T
    among = vectors @ vectors.T
    among[owners[:, None] == owners[None, :]] = -1.0
    crowd = among.max(axis=1)
    scores = {
        "passage": by_passage.max(axis=1),
        "sentence": by_sentence.max(axis=1),
        "sentence_crowded": (by_sentence - 0.5 * crowd[None, :]).max(axis=1),
    }
    return {
        "passages": len(kb),
        "sentences": len(pieces),
        "cases": len(cases),
        "out_of_scope": int((~in_scope).sum()),
        "recall@5": float(hit[in_scope].mean()),
        "scores": {
            name: separation(s.astype(np.float64), in_scope, hit) for name, s in scores.items()
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", type=Path, default=SETS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    embedder = embedder_from_settings(Settings())
    folders = [
        f
        for f in sorted(args.sets.iterdir())
        if (f / "cases.jsonl").is_file()
        and any(not json.loads(line)["gold_doc_ids"] for line in (f / "cases.jsonl").open())
    ]
    report: dict[str, Any] = {
        "benchmark": "abstention_separability",
        "started": started.isoformat(),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "hardware": hardware(),
        "max_recall_cost": MAX_COST,
        "sets": {f.name: measure(f, embedder) for f in folders},
    }
    path = write_result(args.out, "abstention_separability", started, report)
    for name, result in report["sets"].items():
        for score, s in result["scores"].items():
            print(
                f"{name:20s} {score:17s} AUROC {s['auroc']:.3f}  out-of-scope abstained "
                f"{s['abstained_out_of_scope']:.3f} at recall cost {s['recall_cost']:.3f}"
            )
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
