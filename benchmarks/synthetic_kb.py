"""A synthetic KB of N passages for the KB-size runs of the speed comparison (issue 12).

The documents of a real data folder's KB (``--from``, e.g. the demo KB of ``data/bench``) are
copied over and over into a new data folder (``--to``) until it holds about ``--passages``
passages: copy ``r`` of a document is ``<doc_id>~<r>``, with the same text, client, language and
sections, and each passage vector is the original plus Gaussian noise, renormalised (cosine about
0.96 with the original), so a query's neighbours are spread as in a real KB rather than tied. The
vectors are written through the KB store, as an ingest writes them, so no passage is embedded; the
service builds its FAISS and BM25 indexes from the store when it first opens the folder. Run::

    .venv/bin/python benchmarks/synthetic_kb.py --passages 10000 --to data/bench-10k
    .venv/bin/python benchmarks/service_load.py --peer --data-dir data/bench-10k
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from copilot.kb.knowledge_base import content_hash
from copilot.kb.store import DocumentWrite, KbStore

ROOT = Path(__file__).resolve().parent.parent
NOISE = 0.3
BATCH_DOCS = 500


def build(source_kb: Path, target_kb: Path, passages: int, seed: int = 0) -> int:
    """Write the synthetic KB into ``target_kb`` (a new folder); returns its passage count.

    Raises:
        FileExistsError: ``target_kb`` already holds a KB.
        ValueError: The source KB is empty.
    """
    if (target_kb / "kb.sqlite").exists():
        raise FileExistsError(f"{target_kb} already holds a KB")
    src = KbStore(source_kb / "kb.sqlite")
    try:
        meta = {k: v for k, v in src.meta().items() if k != "generation"}
        dim = int(meta["dim"])
        vectors: dict[str, list[NDArray[np.float32]]] = defaultdict(list)
        for c in src.chunks(dim):
            vectors[c.doc_id].append(c.vector)
        docs = [src.document(d.doc_id) for d in src.document_infos()]
    finally:
        src.close()
    originals = [
        (doc, chunks, np.vstack(vectors[doc.doc_id])) for doc, chunks in filter(None, docs)
    ]
    originals = [o for o in originals if len(o[1])]
    if not originals:
        raise ValueError(f"no passage in {source_kb}")
    rng = np.random.default_rng(seed)
    store = KbStore(target_kb / "kb.sqlite")
    written = 0
    copy = 0
    try:
        while written < passages:
            batch: list[DocumentWrite] = []
            for doc, chunks, vecs in originals:
                if written >= passages:
                    break
                doc_id = doc.doc_id if copy == 0 else f"{doc.doc_id}~{copy}"
                document = replace(doc, doc_id=doc_id)
                noisy = (
                    vecs if copy == 0 else vecs + rng.normal(0, NOISE / np.sqrt(dim), vecs.shape)
                )
                noisy = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
                moved = [replace(c, doc_id=doc_id) for c in chunks]
                batch.append(DocumentWrite(document, content_hash(document), moved, noisy))
                written += len(chunks)
                if len(batch) == BATCH_DOCS:
                    store.write(batch, meta=meta)
                    batch = []
            if batch:
                store.write(batch, meta=meta)
            copy += 1
    finally:
        store.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Build the folder; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--passages", type=int, required=True)
    parser.add_argument("--from", dest="source", type=Path, default=ROOT / "data" / "bench")
    parser.add_argument("--to", type=Path, required=True, help="a new data folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n = build(args.source / "kb" / "default", args.to / "kb" / "default", args.passages, args.seed)
    print(f"{args.to}: {n} passages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
