"""A process killed mid-ingest leaves a KB that opens, searches and can finish the job."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from copilot.kb import KnowledgeBase
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.settings import Settings


def _generation(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'generation'").fetchone()
    return int(row[0]) if row else 0


def test_kill_during_ingest_leaves_a_usable_index(
    filled_kb: KnowledgeBase,
    settings: Settings,
    e5: Embedder,
    detector: LanguageDetector,
    tmp_path: Path,
) -> None:
    batch = tmp_path / "batch.jsonl"
    with batch.open("w") as fh:
        for i in range(120):
            text = f"Procedimiento {i}: el agente verifica la identidad y registra el caso."
            fh.write(json.dumps({"id": f"bulk-{i:03d}", "title": f"Caso {i}", "text": text}) + "\n")
    db = settings.kb_dir / "kb.sqlite"
    start_generation = _generation(db)
    env = {
        **os.environ,
        "COPILOT_DATA_DIR": str(settings.data_dir),
        "COPILOT_MODELS_MANIFEST": str(settings.models_manifest),
        "COPILOT_INGEST_COMMIT_EVERY": "4",
        "COPILOT_USE_RERANKER": "false",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "copilot", "kb", "add", str(batch), "--language", "es"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _generation(db) < start_generation + 2 and time.monotonic() < deadline:
        assert proc.poll() is None, "ingest finished before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _generation(db) >= start_generation + 2

    kb = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    docs = kb.list_documents()
    bulk = [d for d in docs if d.doc_id.startswith("bulk-")]
    assert 0 < len(bulk) < 120, "the kill landed mid-ingest"
    assert kb.n_passages == sum(d.n_chunks for d in docs)
    assert kb.search("me robaron la tarjeta oro", k=1)[0].doc_id == "bank-es-bloqueo"

    report = kb.add([batch])
    assert len(report.unchanged) == len(bulk)
    assert len(report.added) == 120 - len(bulk)
    assert kb.n_passages == sum(d.n_chunks for d in kb.list_documents())
    kb.close()
