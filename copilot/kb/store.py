"""The KB's metadata store in SQLite: documents, their chunks with vectors, and the build manifest.

The store is the source of truth. Each chunk keeps its vector, so the FAISS index is a cache that
can always be rebuilt from here without re-embedding; every write bumps ``generation`` in the same
transaction, and an index whose recorded generation differs is known to be stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, defer, mapped_column

from copilot.domain import Chunk, Document, DocumentInfo


class _Base(DeclarativeBase):
    pass


class DocumentRow(_Base):
    """One knowledge-base document, with its full text, so a rebuild needs no source file."""

    __tablename__ = "documents"
    doc_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16), index=True)
    client: Mapped[str | None] = mapped_column(String(100), index=True)
    tags: Mapped[str] = mapped_column(Text, default="[]")
    entities: Mapped[str] = mapped_column(Text, default="[]")
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[str] = mapped_column(String(40))


class ChunkRow(_Base):
    """One passage; ``chunk_id`` is also its FAISS id and is never reused (AUTOINCREMENT)."""

    __tablename__ = "chunks"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012  # SQLAlchemy reads a plain dict
    chunk_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.doc_id"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    section: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class MetaRow(_Base):
    """Facts about the stored vectors: embedder, dimension, chunker version, generation."""

    __tablename__ = "kb_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk as read back for indexing, with its document's filterable metadata."""

    chunk_id: int
    doc_id: str
    section: str
    text: str
    vector: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """A document to insert or replace, with its chunks and their vectors (one row each)."""

    document: Document
    content_hash: str
    chunks: Sequence[Chunk]
    vectors: NDArray[np.float32]


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]  # DB-API connection, untyped
    # WAL keeps readers going during a write; a crash rolls back to the last commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class KbStore:
    """SQLite store of one knowledge base. Writers go through `write`, one transaction per call."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self._engine, "connect", _sqlite_pragmas)
        _Base.metadata.create_all(self._engine)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self._engine) as session, session.begin():
            yield session

    def meta(self) -> dict[str, str]:
        """All manifest facts (empty for a new store)."""
        with self._session() as s:
            return {row.key: row.value for row in s.scalars(select(MetaRow))}

    @staticmethod
    def _put_meta(s: Session, values: dict[str, str]) -> None:
        for key, value in values.items():
            s.merge(MetaRow(key=key, value=value))

    @staticmethod
    def _bump(s: Session) -> int:
        row = s.get(MetaRow, "generation")
        gen = int(row.value) + 1 if row else 1
        s.merge(MetaRow(key="generation", value=str(gen)))
        return gen

    def generation(self) -> int:
        """How many committed writes this store has seen."""
        return int(self.meta().get("generation", "0"))

    def hashes(self) -> dict[str, str]:
        """Content hash of every stored document, by id."""
        with self._session() as s:
            rows = s.execute(select(DocumentRow.doc_id, DocumentRow.content_hash))
            return {str(doc_id): str(digest) for doc_id, digest in rows}

    def write(
        self,
        writes: Sequence[DocumentWrite],
        removals: Sequence[str] = (),
        meta: dict[str, str] | None = None,
    ) -> tuple[list[int], list[int]]:
        """Replace or insert documents, delete others and set manifest facts, atomically.

        Returns:
            The ids of the chunks removed and of the chunks added, in the order of ``writes``.
        """
        now = datetime.now(UTC).isoformat()
        removed: list[int] = []
        added: list[int] = []
        with self._session() as s:
            for doc_id in [*removals, *(w.document.doc_id for w in writes)]:
                removed.extend(
                    s.scalars(select(ChunkRow.chunk_id).where(ChunkRow.doc_id == doc_id))
                )
                s.execute(delete(ChunkRow).where(ChunkRow.doc_id == doc_id))
            for doc_id in removals:
                s.execute(delete(DocumentRow).where(DocumentRow.doc_id == doc_id))
            for w in writes:
                d = w.document
                old = s.get(DocumentRow, d.doc_id)
                row = DocumentRow(
                    doc_id=d.doc_id,
                    title=d.title,
                    text=d.text,
                    source=d.source,
                    language=d.language,
                    client=d.client,
                    tags=json.dumps(list(d.tags)),
                    entities=json.dumps(list(d.entities), ensure_ascii=False),
                    content_hash=w.content_hash,
                    version=old.version + 1 if old else 1,
                    updated_at=now,
                )
                s.merge(row)
                s.flush()  # no ORM relationship orders the inserts, so the parent row goes first
                rows = [
                    ChunkRow(
                        doc_id=d.doc_id,
                        ordinal=c.ordinal,
                        section=c.section,
                        text=c.text,
                        vector=np.ascontiguousarray(v, dtype=np.float32).tobytes(),
                    )
                    for c, v in zip(w.chunks, w.vectors, strict=True)
                ]
                s.add_all(rows)
                s.flush()
                added.extend(r.chunk_id for r in rows)
            self._put_meta(s, meta or {})
            self._bump(s)
        return removed, added

    def has_document(self, doc_id: str) -> bool:
        """True when a document with this id is stored."""
        with self._session() as s:
            return s.get(DocumentRow, doc_id) is not None

    def documents(self) -> list[Document]:
        """Every stored document with its text, ordered by id (for re-chunking on rebuild)."""
        with self._session() as s:
            return [
                _to_document(r) for r in s.scalars(select(DocumentRow).order_by(DocumentRow.doc_id))
            ]

    def document(self, doc_id: str) -> tuple[Document, list[Chunk]] | None:
        """One document with its passages in reading order, or None when no such id is stored."""
        with self._session() as s:
            row = s.get(DocumentRow, doc_id)
            if row is None:
                return None
            chunks = s.scalars(
                select(ChunkRow).where(ChunkRow.doc_id == doc_id).order_by(ChunkRow.ordinal)
            )
            return _to_document(row), [
                Chunk(c.doc_id, c.ordinal, c.section, c.text) for c in chunks
            ]

    def document_infos(self) -> list[DocumentInfo]:
        """Every stored document's metadata and chunk count, ordered by id."""
        with self._session() as s:
            grouped = s.execute(select(ChunkRow.doc_id, func.count()).group_by(ChunkRow.doc_id))
            counts = {str(doc_id): int(n) for doc_id, n in grouped}
            return [
                DocumentInfo(
                    **_metadata(r),
                    version=r.version,
                    n_chunks=counts.get(r.doc_id, 0),
                    content_hash=r.content_hash,
                )
                for r in s.scalars(
                    select(DocumentRow)
                    .options(defer(DocumentRow.text))
                    .order_by(DocumentRow.doc_id)
                )
            ]

    def chunks(self, dim: int) -> Iterator[StoredChunk]:
        """Stream every chunk with its vector, in id order."""
        with self._session() as s:
            for r in s.scalars(select(ChunkRow).order_by(ChunkRow.chunk_id)).yield_per(2048):
                yield StoredChunk(
                    r.chunk_id,
                    r.doc_id,
                    r.section,
                    r.text,
                    np.frombuffer(r.vector, np.float32, dim),
                )


class _Metadata(TypedDict):
    doc_id: str
    title: str
    source: str
    language: str | None
    client: str | None
    tags: tuple[str, ...]
    entities: tuple[str, ...]


def _metadata(r: DocumentRow) -> _Metadata:
    """The fields `Document` and `DocumentInfo` share, decoded from a row."""
    return _Metadata(
        doc_id=r.doc_id,
        title=r.title,
        source=r.source,
        language=r.language,
        client=r.client,
        tags=tuple(json.loads(r.tags)),
        entities=tuple(json.loads(r.entities)),
    )


def _to_document(r: DocumentRow) -> Document:
    return Document(text=r.text, **_metadata(r))
