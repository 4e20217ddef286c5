"""Manual knowledge-base search and document view, for the agent panel's search box and evidence."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query

from copilot.api.auth import require
from copilot.api.deps import StateDep
from copilot.api.responses import KbDocumentOut, KbDocumentPassage, KbPassageOut, KbSearchOut
from copilot.api.schemas import Language
from copilot.domain import Role, SearchFilters

# Any signed-in caller (agent and up): the panel searches by hand and opens evidence sources.
router = APIRouter(
    prefix="/v1/kb", tags=["knowledge base"], dependencies=[Depends(require(Role.AGENT))]
)
_SNIPPET_CHARS = 400


def document_url(doc_id: str) -> str:
    """Where the service serves a document's passages."""
    return f"/v1/kb/documents/{doc_id}"


@router.get("/search")
async def search(
    state: StateDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="The question.")],
    client: Annotated[str | None, Query(max_length=100)] = None,
    language: Language | None = None,
    k: Annotated[int, Query(ge=1, le=20)] = 5,
) -> KbSearchOut:
    """Search the KB by hand: passages best first, at most one per document.

    Retrieval is CPU work, so it runs in a worker thread and the event loop keeps serving turns.
    """
    filters = SearchFilters(client=client or None, language=language)
    hits = await anyio.to_thread.run_sync(partial(state.kb.search, q, k, filters))
    return KbSearchOut(
        query=q,
        results=[
            KbPassageOut(
                doc_id=h.doc_id,
                title=h.title,
                section=h.section,
                snippet=h.text[:_SNIPPET_CHARS],
                score=round(h.score, 4),
                source=h.source,
                language=h.language,
                client=h.client,
                url=document_url(h.doc_id),
            )
            for h in hits
        ],
    )


@router.get("/documents/{doc_id}")
async def document(doc_id: str, state: StateDep) -> KbDocumentOut:
    """A document with its text and passages: the source behind a suggestion's evidence.

    Unknown ids answer 404 ``unknown_document``.
    """
    doc, chunks = await anyio.to_thread.run_sync(state.kb.document, doc_id)
    return KbDocumentOut(
        doc_id=doc.doc_id,
        title=doc.title,
        source=doc.source,
        language=doc.language,
        client=doc.client,
        tags=list(doc.tags),
        text=doc.text,
        passages=[
            KbDocumentPassage(ordinal=c.ordinal, section=c.section, text=c.text) for c in chunks
        ],
    )
