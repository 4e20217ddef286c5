"""KnowledgeBase on the real models: ingest, update, removal, filters, dialogue, recovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.domain import DialogueTurn, SearchFilters, SourceFile, Speaker
from copilot.errors import DocumentNotFoundError, IndexManifestMismatchError
from copilot.kb import KnowledgeBase
from copilot.kb.index import FaissIndex
from copilot.kb.retrieve import RetrievalMode
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.models.reranker import Reranker
from copilot.settings import Settings

EVERY_DOC = {
    "bank-es-bloqueo",
    "bank-es-contracargo",
    "tel-en-roaming-viajero",
    "tel-en-roaming-basico",
    "ret-pt-devolucao",
    "tel-en-outage",
    "tel-faq-puk",
    "tel-faq-esim",
    "ret-jsonl-gift",
    "ret-jsonl-pix",
    "ret-pt-troca-defeito",
}


def _top(kb: KnowledgeBase, query: str) -> str:
    return kb.search(query, k=3)[0].doc_id


def test_ingest_of_every_format_makes_each_document_searchable(
    open_kb: KnowledgeBase, kb_sources: Path
) -> None:
    report = open_kb.add([kb_sources])
    assert set(report.added) == EVERY_DOC
    assert {p.path.rsplit("/", 1)[-1] for p in report.problems} == {"faq.csv:4", "extra.jsonl:2"}
    assert {d.doc_id for d in open_kb.list_documents()} == EVERY_DOC
    assert open_kb.n_passages == report.n_chunks
    assert _top(open_kb, "alguien me robó la tarjeta oro") == "bank-es-bloqueo"
    assert _top(open_kb, "cuánto tiempo tengo para reclamar un cargo que no reconozco") == (
        "bank-es-contracargo"
    )
    assert _top(open_kb, "where is my PUK code?") == "tel-faq-puk"
    assert _top(open_kb, "o produto veio com defeito, posso trocar?") == "ret-pt-troca-defeito"
    assert _top(open_kb, "no signal in the north, is there an outage?") == "tel-en-outage"
    assert _top(open_kb, "do gift cards expire") == "ret-jsonl-gift"


def test_hit_carries_document_section_text_score_and_source(filled_kb: KnowledgeBase) -> None:
    hit = filled_kb.search("me robaron la tarjeta", k=1)[0]
    assert hit.doc_id == "bank-es-bloqueo"
    assert hit.title == "Bloqueo de tarjeta por robo"
    assert hit.section in {"Cómo bloquear", "Reposición"}
    assert "0800 100 200" in hit.text or "cinco días" in hit.text
    assert hit.source.endswith("bank-es-bloqueo.md")
    assert hit.score > 0
    assert (hit.language, hit.client) == ("es", "bank")


def test_language_is_detected_for_documents_that_do_not_state_it(filled_kb: KnowledgeBase) -> None:
    docs = {d.doc_id: d for d in filled_kb.list_documents()}
    assert docs["tel-en-outage"].language == "en"


def test_reingesting_unchanged_sources_does_nothing(
    filled_kb: KnowledgeBase, kb_sources: Path
) -> None:
    before = {d.doc_id: d.version for d in filled_kb.list_documents()}
    report = filled_kb.add([kb_sources])
    assert report.added == []
    assert report.updated == []
    assert set(report.unchanged) == EVERY_DOC
    assert {d.doc_id: d.version for d in filled_kb.list_documents()} == before


def test_changed_document_replaces_only_its_own_passages(
    filled_kb: KnowledgeBase, kb_sources: Path
) -> None:
    other_before = filled_kb.search("me robaron la tarjeta oro", k=1)[0].chunk_id
    path = kb_sources / "ret-pt-devolucao.md"
    path.write_text(path.read_text().replace("30 dias", "45 dias"))
    report = filled_kb.add([path])
    assert report.updated == ["ret-pt-devolucao"]
    docs = {d.doc_id: d for d in filled_kb.list_documents()}
    assert docs["ret-pt-devolucao"].version == 2
    assert docs["bank-es-bloqueo"].version == 1
    hit = filled_kb.search("prazo para devolver produto", k=1)[0]
    assert hit.doc_id == "ret-pt-devolucao"
    assert "45 dias" in hit.text
    assert filled_kb.search("me robaron la tarjeta oro", k=1)[0].chunk_id == other_before
    assert filled_kb.n_passages == sum(d.n_chunks for d in filled_kb.list_documents())


def test_document_returns_its_text_and_every_passage_a_search_can_cite(
    filled_kb: KnowledgeBase,
) -> None:
    doc, passages = filled_kb.document("bank-es-bloqueo")
    assert doc.doc_id == "bank-es-bloqueo"
    assert doc.client == "bank"
    assert [p.ordinal for p in passages] == sorted(p.ordinal for p in passages)
    info = next(d for d in filled_kb.list_documents() if d.doc_id == "bank-es-bloqueo")
    assert len(passages) == info.n_chunks
    hit = filled_kb.search("me robaron la tarjeta", k=1)[0]
    assert (hit.section, hit.text) in {(p.section, p.text) for p in passages}
    with pytest.raises(DocumentNotFoundError, match="no-such-doc"):
        filled_kb.document("no-such-doc")


def test_removed_document_is_never_returned_again(
    filled_kb: KnowledgeBase, settings: Settings, e5: Embedder, detector: LanguageDetector
) -> None:
    filled_kb.remove("bank-es-contracargo")
    for mode in RetrievalMode:
        hits = filled_kb.search("disputar un cargo no reconocido contracargo", k=20, mode=mode)
        assert "bank-es-contracargo" not in {h.doc_id for h in hits}
    reopened = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    hits = reopened.search("disputar un cargo no reconocido contracargo", k=20)
    assert "bank-es-contracargo" not in {h.doc_id for h in hits}
    assert reopened.n_passages == sum(d.n_chunks for d in reopened.list_documents())
    with pytest.raises(DocumentNotFoundError, match="bank-es-contracargo"):
        filled_kb.remove("bank-es-contracargo")


def test_bad_files_are_reported_by_name_while_the_rest_lands(
    open_kb: KnowledgeBase, kb_sources: Path
) -> None:
    (kb_sources / "empty.md").write_text("")
    (kb_sources / "blob.txt").write_bytes(b"\x00\xff" * 50)
    (kb_sources / "scan.pdf").write_bytes(b"%PDF-1.7 garbage")
    report = open_kb.add([kb_sources, Path(kb_sources / "missing.md")])
    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert reasons["empty.md"] == "empty file"
    assert "binary" in reasons["blob.txt"]
    assert "unreadable PDF" in reasons["scan.pdf"]
    assert reasons["missing.md"] == "no such file or folder"
    assert set(report.added) == EVERY_DOC


def test_filters_restrict_client_language_and_tags(filled_kb: KnowledgeBase) -> None:
    query = "roaming data abroad"
    assert {h.client for h in filled_kb.search(query, 10, SearchFilters(client="retail"))} == {
        "retail"
    }
    hits = filled_kb.search(query, 10, SearchFilters(language="pt"))
    assert hits
    assert {h.language for h in hits} == {"pt"}
    hits = filled_kb.search(query, 10, SearchFilters(tags=("plan-basico",)))
    assert [h.doc_id for h in hits] == ["tel-en-roaming-basico"]
    assert filled_kb.search(query, 10, SearchFilters(client="nobody")) == []


def test_follow_up_question_uses_the_entity_named_earlier(filled_kb: KnowledgeBase) -> None:
    question = DialogueTurn(Speaker.CUSTOMER, "what do I pay when my data runs out abroad?")
    for plan, expected in [
        ("Plan Viajero", "tel-en-roaming-viajero"),
        ("Plan Básico", "tel-en-roaming-basico"),
    ]:
        turns = [
            DialogueTurn(Speaker.CUSTOMER, f"Hi, I'm on the {plan}"),
            DialogueTurn(Speaker.AGENT, "Hello! How can I help you today?"),
            question,
        ]
        query = filled_kb.query_for(turns)
        assert plan in query.entities
        assert query.boosts[expected] == 1.0
        hits = filled_kb.search(turns, k=2, filters=SearchFilters(client="telecom"))
        assert hits[0].doc_id == expected


def test_entity_in_the_last_turn_wins_over_earlier_ones(filled_kb: KnowledgeBase) -> None:
    turns = [
        DialogueTurn(Speaker.CUSTOMER, "I had Plan Viajero last year"),
        DialogueTurn(Speaker.CUSTOMER, "now on Plan Basico, does it include roaming data?"),
    ]
    query = filled_kb.query_for(turns)
    assert "Plan Básico" in query.entities
    assert "Plan Viajero" not in query.entities
    assert query.boosts["tel-en-roaming-basico"] > query.boosts["tel-en-roaming-viajero"]


def test_other_embedding_model_is_a_clear_error_until_rebuild(
    filled_kb: KnowledgeBase, settings: Settings, detector: LanguageDetector, use_reranker: Reranker
) -> None:
    from copilot.models.embedding import load_embedder
    from copilot.models.loader import resolve

    other = load_embedder(resolve("use-multilingual", settings.models_manifest))
    with pytest.raises(IndexManifestMismatchError, match=r"multilingual-e5-small.*kb rebuild"):
        KnowledgeBase.open(settings, embedder=other, reranker=None, language_detector=detector)
    rebuilt = KnowledgeBase.open(
        settings, embedder=other, reranker=None, language_detector=detector, allow_rebuild=True
    )
    assert rebuilt.rebuild() == filled_kb.n_passages
    reopened = KnowledgeBase.open(
        settings, embedder=other, reranker=None, language_detector=detector
    )
    assert reopened.search("me robaron la tarjeta oro", k=1)[0].doc_id == "bank-es-bloqueo"
    manifest = json.loads((settings.kb_dir / "index" / "manifest.json").read_text())
    assert (manifest["embedder"], manifest["dim"]) == ("use-multilingual", 512)


def test_crash_before_index_save_is_repaired_from_the_store(
    open_kb: KnowledgeBase,
    kb_sources: Path,
    settings: Settings,
    e5: Embedder,
    detector: LanguageDetector,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_kb.add([kb_sources / "bank-es-bloqueo.md"])

    def crash(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(FaissIndex, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        open_kb.add([SourceFile(kb_sources / "ret-pt-devolucao.md")])
    monkeypatch.undo()
    reopened = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    assert reopened.n_passages == sum(d.n_chunks for d in reopened.list_documents())
    assert _top(reopened, "quero devolver um produto") == "ret-pt-devolucao"
    assert _top(reopened, "me robaron la tarjeta oro") == "bank-es-bloqueo"


def test_empty_kb_and_empty_query_return_nothing(open_kb: KnowledgeBase) -> None:
    assert open_kb.search("anything") == []
    assert open_kb.search("   ") == []
