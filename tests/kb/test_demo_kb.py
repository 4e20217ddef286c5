"""The bundled demo KB and evaluation set: complete, consistent, and retrieval meets its targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from copilot.domain import DialogueTurn, SearchFilters, SearchHit, SourceFile
from copilot.kb import KnowledgeBase
from copilot.kb.evaluate import evaluate, load_cases
from copilot.kb.ingest import expand, read_all
from copilot.kb.retrieve import RetrievalMode
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.conftest import REPO

DEMO = REPO / "knowledge_base" / "demo"
CASES = REPO / "knowledge_base" / "eval" / "cases.jsonl"


def test_demo_kb_has_every_format_client_and_language() -> None:
    files, missing = expand([SourceFile(DEMO)])
    docs, problems = read_all(files, 20 * 1024 * 1024, lambda _t: None)
    assert missing == []
    assert problems == []
    assert len(docs) >= 60
    assert {f.path.suffix for f in files} >= {".md", ".csv", ".html", ".pdf", ".jsonl", ".txt"}
    assert set(Counter(d.client for d in docs)) == {"telecom", "bank", "retail"}
    languages = Counter(d.language or "?" for d in docs)
    assert min(languages["es"], languages["en"], languages["pt"]) >= 15


def test_eval_set_covers_languages_kinds_and_names_existing_documents() -> None:
    files, _ = expand([SourceFile(DEMO)])
    doc_ids = {d.doc_id for d in read_all(files, 20 * 1024 * 1024, lambda _t: None)[0]}
    cases = load_cases(CASES)
    assert len(cases) >= 150
    assert len({c.case_id for c in cases}) == len(cases)
    assert all(c.gold_doc_ids <= doc_ids for c in cases)
    assert min(Counter(c.language for c in cases).values()) >= 15
    kinds = Counter(c.kind for c in cases)
    assert kinds["cross-lingual"] >= 30
    assert kinds["follow-up"] >= 30
    assert all(len(c.turns) > 1 for c in cases if c.kind == "follow-up")


@pytest.mark.slow
def test_hybrid_retrieval_meets_recall_target_on_the_bundled_set(
    tmp_path: Path, e5: Embedder, use_reranker: Reranker, detector: LanguageDetector
) -> None:
    settings = Settings(data_dir=tmp_path, models_manifest=REPO / "models" / "manifest.toml")
    kb = KnowledgeBase.open(
        settings, embedder=e5, reranker=use_reranker, language_detector=detector
    )
    kb.add([DEMO])
    cases = load_cases(CASES)
    reports = {}
    for mode in (RetrievalMode.HYBRID, RetrievalMode.RERANK):

        def search(
            turns: Sequence[DialogueTurn], filters: SearchFilters, m: RetrievalMode = mode
        ) -> list[SearchHit]:
            return kb.search(turns, 10, filters, m)

        reports[mode] = evaluate(cases, search, mode.value)
    assert reports[RetrievalMode.HYBRID].metrics["recall@5"] >= 0.9
    best = reports[RetrievalMode.RERANK]
    assert best.metrics["recall@5"] >= 0.95
    cross = best.by_kind["cross-lingual"]["recall@5"]
    same = [m["recall@5"] for kind, m in best.by_kind.items() if kind != "cross-lingual"]
    assert cross >= min(same) - 0.05
    kb.close()
