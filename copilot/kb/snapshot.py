"""An immutable read view of the KB: passage table, BM25 index, retriever and entity vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from copilot.kb.chunk import passage_text
from copilot.kb.index import FaissIndex
from copilot.kb.lexical import LexicalIndex
from copilot.kb.query import EntityVocabulary
from copilot.kb.retrieve import PassageTable, RetrievalParams, Retriever
from copilot.kb.store import KbStore
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What searches read; a write builds a new one instead of changing this one."""

    retriever: Retriever
    vocabulary: EntityVocabulary


def take_snapshot(
    store: KbStore,
    index: FaissIndex,
    embedder: Embedder,
    reranker: Reranker | None,
    settings: Settings,
) -> Snapshot:
    """Read every passage and document from the store and build the lexical index over them."""
    docs = {d.doc_id: d for d in store.document_infos()}
    ids, doc_ids, sections, texts = [], [], [], []
    for c in store.chunks(embedder.dim):
        ids.append(c.chunk_id)
        doc_ids.append(c.doc_id)
        sections.append(c.section)
        texts.append(c.text)
    table = PassageTable(np.asarray(ids, np.int64), doc_ids, sections, texts, docs)
    lexical = LexicalIndex(
        table.ids,
        [
            passage_text(docs[d].title, s, t)
            for d, s, t in zip(doc_ids, sections, texts, strict=True)
        ],
    )
    params = RetrievalParams.from_settings(settings)
    retriever = Retriever(table, index, lexical, embedder, reranker, params)
    return Snapshot(retriever, EntityVocabulary(docs.values()))
