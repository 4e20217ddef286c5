"""Benchmark the dense index: FAISS exact (flat) and IVF against brute-force numpy, synthetic data.

For each corpus size N it draws unit vectors of dimension 384 from a Gaussian mixture (200
random centres plus noise of norm 2.5, normalised) so that IVF's coarse clustering behaves as
it would on real embeddings (clusters that overlap), then measures:

* build time of `FaissIndex` exact (flat) and IVF (forced with ``ann_threshold=1``);
* single-query latency p50/p95 (ms, ``k=10``) of both, and of a numpy baseline (``vectors @ q``
  then ``argpartition`` for the top 10, sorted) on the same queries in the same run (one method
  after the other), with the ratio ``numpy / faiss`` reported as
  ``speedup_vs_numpy_p50`` / ``_p95`` (above 1: FAISS is faster);
* recall@10 of IVF (and of the numpy baseline, as a sanity check) against the exact index.

Results go to ``benchmarks/results/retrieval-<YYYYmmdd-HHMMSS>.json`` with the date, git commit,
hardware and library versions. Run::

    .venv/bin/python benchmarks/retrieval.py --sizes 1000 10000 100000 --queries 200
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray
from provenance import (  # sibling module: scripts run from here
    git_commit,
    git_dirty,
    hardware,
    write_result,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from copilot.kb.index import FaissIndex

DIM = 384
K = 10
N_CENTRES = 200
WARMUP_QUERIES = 5
THREADS = 2
DEFAULT_OUT = Path(__file__).resolve().parent / "results"

Vectors = NDArray[np.float32]
Ids = NDArray[np.int64]
Metrics = dict[str, Any]


def mixture(rng: np.random.Generator, centres: Vectors, n: int, noise: float) -> Vectors:
    """``n`` unit vectors: a random unit centre each, plus noise of norm ~``noise``, normalised.

    With ``noise`` near 2.5 clusters overlap enough that IVF misses some true neighbours, as on real
    embeddings; much lower makes every cluster its own island (IVF recall 1.0), much higher leaves
    no structure to exploit.
    """
    dim = centres.shape[1]
    which = rng.integers(0, len(centres), size=n)
    std = noise / np.sqrt(dim)
    x = centres[which] + rng.standard_normal((n, dim), dtype=np.float32) * np.float32(std)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


def numpy_top_k(vectors: Vectors, query: Vectors, k: int) -> Ids:
    """Brute-force baseline: all inner products, ``argpartition`` for the top ``k``, then sorted."""
    scores = vectors @ query
    top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top])].astype(np.int64)


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean of latency samples in milliseconds."""
    arr = np.asarray(samples_ms, dtype=np.float64)
    return {
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "mean": float(arr.mean()),
    }


def time_queries(
    searches: Sequence[Callable[[Vectors], Ids]], queries: Vectors
) -> list[tuple[list[float], list[Ids]]]:
    """Latency (ms) and result ids of one call per query, for each search function in turn.

    Each method runs all its queries in one block, after a few untimed warm-up calls. Interleaving
    them query by query was tried and rejected: on a 2-core machine numpy's OpenBLAS threads and
    FAISS's OpenMP threads then keep spin-waiting against each other, inflating both up to 10x.
    """
    out: list[tuple[list[float], list[Ids]]] = []
    for search in searches:
        for q in queries[:WARMUP_QUERIES]:
            search(q)
        latencies: list[float] = []
        results: list[Ids] = []
        for q in queries:
            start = time.perf_counter()
            ids = search(q)
            latencies.append((time.perf_counter() - start) * 1000)
            results.append(ids)
        out.append((latencies, results))
    return out


def recall_at_k(found: Sequence[Ids], truth: Sequence[Ids], k: int) -> float:
    """Mean share of the true top ``k`` that were found."""
    hits = [
        len(set(f[:k].tolist()) & set(t[:k].tolist())) / k
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits))


def faiss_search(index: FaissIndex) -> Callable[[Vectors], Ids]:
    """The index's single-query search, returning only ids."""

    def search(q: Vectors) -> Ids:
        return index.search(q, K)[1]

    return search


def bench_size(
    n: int, n_queries: int, nprobe: int, noise: float, rng: np.random.Generator
) -> Metrics:
    """Every measurement for one corpus size."""
    centres = rng.standard_normal((N_CENTRES, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = mixture(rng, centres, n, noise)
    queries = mixture(rng, centres, n_queries, noise)
    ids = np.arange(n, dtype=np.int64)

    start = time.perf_counter()
    flat = FaissIndex.build(ids, vectors, DIM, ann_threshold=n + 1, nprobe=nprobe)
    flat_build = time.perf_counter() - start
    start = time.perf_counter()
    ivf = FaissIndex.build(ids, vectors, DIM, ann_threshold=1, nprobe=nprobe)
    ivf_build = time.perf_counter() - start
    if (flat.kind, ivf.kind) != ("flat", "ivf"):
        raise RuntimeError(f"expected a flat and an IVF index, got {flat.kind} and {ivf.kind}")

    (np_lat, np_ids), (flat_lat, flat_ids), (ivf_lat, ivf_ids) = time_queries(
        [lambda q: numpy_top_k(vectors, q, K), faiss_search(flat), faiss_search(ivf)], queries
    )

    np_p = percentiles(np_lat)

    def faiss_metrics(build_s: float, lat: list[float], found: list[Ids]) -> Metrics:
        p = percentiles(lat)
        return {
            "build_s": build_s,
            "latency_ms": p,
            "speedup_vs_numpy_p50": np_p["p50"] / p["p50"],
            "speedup_vs_numpy_p95": np_p["p95"] / p["p95"],
            "recall@10_vs_exact": recall_at_k(found, flat_ids, K),
        }

    ivf_metrics = faiss_metrics(ivf_build, ivf_lat, ivf_ids)
    ivf_metrics["nlist"] = int(faiss.extract_index_ivf(ivf._index).nlist)
    ivf_metrics["nprobe"] = nprobe
    return {
        "n": n,
        "n_queries": n_queries,
        "numpy": {"latency_ms": np_p, "recall@10_vs_exact": recall_at_k(np_ids, flat_ids, K)},
        "flat": faiss_metrics(flat_build, flat_lat, flat_ids),
        "ivf": ivf_metrics,
    }


def render(results: Sequence[Metrics], console: Console) -> None:
    """One row per size and method; speedups are numpy latency over the method's."""
    table = Table(
        title=f"Dense retrieval, dim={DIM}, k={K}, single-query latency",
        caption="xnp: speedup over the numpy baseline (above 1: faster); "
        "R@10: recall@10 against the exact index",
    )
    columns = ("N", "method", "nlist", "build s", "p50 ms", "p95 ms", "xnp p50", "xnp p95", "R@10")
    for col in columns:
        table.add_column(col, justify="right")
    for r in results:
        for method in ("numpy", "flat", "ivf"):
            m = r[method]
            lat = m["latency_ms"]
            table.add_row(
                f"{r['n'] // 1000}k" if r["n"] % 1000 == 0 else str(r["n"]),
                method,
                str(m.get("nlist", "-")),
                f"{m['build_s']:.3f}" if "build_s" in m else "-",
                f"{lat['p50']:.3f}",
                f"{lat['p95']:.3f}",
                f"{m.get('speedup_vs_numpy_p50', 1.0):.2f}",
                f"{m.get('speedup_vs_numpy_p95', 1.0):.2f}",
                f"{m['recall@10_vs_exact']:.3f}",
            )
        table.add_section()
    console.print(table)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="queries per size")
    parser.add_argument("--nprobe", type=int, default=16, help="IVF lists probed per query")
    parser.add_argument(
        "--noise", type=float, default=2.5, help="norm of the noise added to a unit centre"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON result")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON; returns the exit status."""
    args = parse_args(argv)
    console = Console()
    faiss.omp_set_num_threads(THREADS)
    rng = np.random.default_rng(args.seed)
    started = datetime.now(UTC)
    machine = hardware()
    results: list[Metrics] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} sizes"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("benchmark", total=len(args.sizes))
        for n in args.sizes:
            progress.update(task, description=f"N={n:,}")
            results.append(bench_size(n, args.queries, args.nprobe, args.noise, rng))
            progress.advance(task)
    render(results, console)

    report = {
        "benchmark": "retrieval",
        "date": started.isoformat(),
        "duration_s": (datetime.now(UTC) - started).total_seconds(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "hardware": machine,
        "versions": {
            "python": platform.python_version(),
            "faiss": faiss.__version__,
            "numpy": np.__version__,
        },
        "parameters": {
            "sizes": args.sizes,
            "queries": args.queries,
            "dim": DIM,
            "k": K,
            "centres": N_CENTRES,
            "noise_norm": args.noise,
            "noise_std_per_dim": float(args.noise / np.sqrt(DIM)),
            "nprobe": args.nprobe,
            "ivf_nlist_rule": "max(16, int(4 * sqrt(n)))",
            "faiss_threads": THREADS,
            "warmup_queries": WARMUP_QUERIES,
            "timing": "perf_counter per single query; numpy, flat, ivf blocks in that order",
            "seed": args.seed,
            "baseline": "numpy: vectors @ q, argpartition top-k, argsort of the k",
            "speedup": "numpy latency / faiss latency (above 1: faiss is faster)",
        },
        "results": results,
    }
    path = write_result(args.out, "retrieval", started, report)
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
