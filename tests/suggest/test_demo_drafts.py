"""Every demo article gives a draft customer-ready sentences, and none meant for the agent."""

from __future__ import annotations

from functools import cache

import pytest

from copilot.domain import Document, SearchHit, SourceFile
from copilot.kb.chunk import chunk_document
from copilot.kb.ingest import expand, read_all
from copilot.settings import Settings
from copilot.suggest.audience import is_for_agent, is_internal_section
from copilot.suggest.draft import customer_sentences
from copilot.suggest.sentences import plain_sentences
from tests.conftest import REPO

DEMO = REPO / "knowledge_base" / "demo"


@cache
def _documents() -> tuple[Document, ...]:
    files, _ = expand([SourceFile(DEMO)])
    docs, problems = read_all(files, 20 * 1024 * 1024, lambda _text: None)
    assert problems == []
    return tuple(docs)


def _hits(doc: Document) -> list[SearchHit]:
    """The document's passages as the retriever returns them, with the service's chunk sizes."""
    s = Settings()
    return [
        SearchHit(
            doc.doc_id,
            doc.title,
            c.section,
            c.text,
            1.0,
            doc.source,
            c.ordinal,
            doc.language,
            doc.client,
            doc.tags,
        )
        for c in chunk_document(doc, s.chunk_max_chars, s.chunk_overlap_chars)
    ]


@pytest.mark.parametrize("doc", _documents(), ids=lambda d: d.doc_id)
def test_demo_article_gives_drafts_only_customer_ready_sentences(doc: Document) -> None:
    drafted = [s for hit in _hits(doc) for s in customer_sentences(hit)]
    assert drafted, f"{doc.doc_id} has no sentence a draft may quote"
    assert [s for s in drafted if is_for_agent(s, doc.language)] == []
    assert [s for s in drafted if is_for_agent(s, None)] == []  # no rule of any language fires
    assert not any(mark in s for s in drafted for mark in ("**", "`", "](", "|"))


def test_internal_notes_sections_never_reach_a_draft() -> None:
    internal = [
        hit for doc in _documents() for hit in _hits(doc) if is_internal_section(hit.section)
    ]
    assert len(internal) >= 5  # the reworded articles keep their agent notes in such sections
    assert all(customer_sentences(hit) == [] for hit in internal)
    assert any(
        is_for_agent(s, hit.language) for hit in internal for s in plain_sentences(hit.text, "es")
    )


@pytest.mark.parametrize(
    "doc_id",
    [
        "tel-es-roaming-conecta15",
        "bank-pt-bloqueio-temporario",
        "bank-es-bloqueo-temporal",
        "bank-es-robo-perdida",
        "tel-pt-perda-roubo",
    ],
)
def test_reworded_articles_keep_agent_instructions_under_internal_notes(doc_id: str) -> None:
    doc = next(d for d in _documents() if d.doc_id == doc_id)
    outside = [
        s
        for hit in _hits(doc)
        if not is_internal_section(hit.section)
        for s in plain_sentences(hit.text, doc.language)
    ]
    assert outside
    assert [s for s in outside if is_for_agent(s, doc.language)] == []
