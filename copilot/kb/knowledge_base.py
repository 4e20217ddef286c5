"""`KnowledgeBase`: add, update, remove, list, search and rebuild one KB from Python or the CLI."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from copilot.domain import (
    NO_FILTERS,
    Chunk,
    DialogueTurn,
    Document,
    DocumentInfo,
    IngestReport,
    SearchFilters,
    SearchHit,
    SourceFile,
    Speaker,
)
from copilot.errors import DocumentNotFoundError
from copilot.kb.chunk import chunk_document, passage_text
from copilot.kb.index import FaissIndex
from copilot.kb.ingest import expand, read_all
from copilot.kb.query import RetrievalQuery, build_query
from copilot.kb.retrieve import RetrievalMode
from copilot.kb.snapshot import Snapshot, take_snapshot
from copilot.kb.store import DocumentWrite, KbStore
from copilot.kb.sync import (
    BuildInfo,
    check_compatible,
    index_from_store,
    load_index,
    save_index,
    saved_index_at,
)
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.models.registry import embedder_from_settings, reranker_from_settings
from copilot.models.reranker import Reranker
from copilot.settings import Settings

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` during long work; the CLI draws it as a bar."""


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    return None


def content_hash(doc: Document) -> str:
    """Hash of everything stored about a document, so an unchanged re-ingest is a no-op."""
    fields = [doc.title, doc.text, doc.source, doc.language, doc.client, doc.tags, doc.entities]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode()).hexdigest()


class KnowledgeBase:
    """One knowledge base under ``settings.kb_dir``: a SQLite store, a FAISS index and a BM25 index.

    Reads use an immutable snapshot (`Retriever`) that writers replace under a lock, so a search
    never sees a half-applied update. Example::

        kb = KnowledgeBase.open(Settings())
        kb.add([Path("knowledge_base/demo")])
        hits = kb.search("¿cómo bloqueo mi tarjeta?", k=3, filters=SearchFilters(client="bank"))
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        reranker: Reranker | None,
        language_detector: LanguageDetector,
        allow_rebuild: bool = False,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.reranker = reranker
        self._languages = language_detector
        self._store = KbStore(settings.kb_dir / "kb.sqlite")
        self._index_dir = settings.kb_dir / "index"
        self._build = BuildInfo.of(embedder.name, embedder.dim, settings)
        self._lock = threading.RLock()
        # Read before the index loads: a commit in between only makes the next refresh reload.
        self._generation = self._store.generation()
        if allow_rebuild:
            # Opened only to rebuild: stored vectors may have another dimension, so none is loaded.
            empty = np.zeros((0, embedder.dim), np.float32)
            self._index = FaissIndex.build(np.zeros(0, np.int64), empty, embedder.dim, 1 << 62)
        else:
            check_compatible(self._store, self._build, settings)
            self._index = load_index(self._store, self._index_dir, self._build, settings)
        self._snapshot_cache: Snapshot | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        language_detector: LanguageDetector | None = None,
        allow_rebuild: bool = False,
    ) -> KnowledgeBase:
        """Open (or create) the KB that ``settings`` names, loading the models its manifest assigns.

        Args:
            settings: Paths, model names and limits.
            embedder: An already loaded embedder to share (tests, the service); loaded from the
                manifest if None.
            reranker: An already loaded reranker; loaded from the manifest if None and
                ``use_reranker`` is set.
            language_detector: Shared detector for documents without a language.
            allow_rebuild: Skip the stored-manifest check; only `rebuild` may be called next.

        Raises:
            ModelNotFoundError: A model the manifest names is not installed.
            IndexManifestMismatchError: The stored vectors come from another model or chunker.
        """
        embedder = embedder or embedder_from_settings(settings)
        if reranker is None:
            reranker = reranker_from_settings(settings)
        detector = language_detector or LanguageDetector()
        return cls(settings, embedder, reranker, detector, allow_rebuild)

    def close(self) -> None:
        """Release the store's connections."""
        self._store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _snapshot(self) -> Snapshot:
        with self._lock:
            if self._snapshot_cache is None:
                self._snapshot_cache = take_snapshot(
                    self._store, self._index, self.embedder, self.reranker, self.settings
                )
            return self._snapshot_cache

    def _save(self) -> None:
        self._generation = save_index(self._index, self._index_dir, self._store, self._build)

    # ----- writes ----------------------------------------------------------------------------

    def _chunk(self, doc: Document) -> list[Chunk]:
        return chunk_document(doc, self.settings.chunk_max_chars, self.settings.chunk_overlap_chars)

    def _embed_and_write(
        self,
        planned: Sequence[tuple[Document, str, list[Chunk]]],
        progress: Progress,
    ) -> list[DocumentWrite]:
        """Embed the passages of ``planned`` documents, committing every ``ingest_commit_every``.

        Passages of several documents share one embedding call: per-call overhead dominates for
        short documents, so batching across documents is several times faster.
        """
        total = sum(len(chunks) for _, _, chunks in planned)
        done = 0
        written: list[DocumentWrite] = []
        step = self.settings.ingest_commit_every
        size = self.settings.embed_batch_size
        for start in range(0, max(len(planned), 1), step):
            batch = planned[start : start + step]
            texts = [passage_text(d.title, c.section, c.text) for d, _, cs in batch for c in cs]
            parts = []
            for offset in range(0, len(texts), size):
                parts.append(self.embedder.embed_passages(texts[offset : offset + size]))
                done += len(parts[-1])
                progress("embed", done, total)
            vectors = np.vstack(parts) if parts else np.zeros((0, self.embedder.dim), np.float32)
            writes, row = [], 0
            for doc, digest, chunks in batch:
                writes.append(DocumentWrite(doc, digest, chunks, vectors[row : row + len(chunks)]))
                row += len(chunks)
            self._apply(writes)
            written.extend(writes)
        return written

    def _apply(self, writes: Sequence[DocumentWrite], removals: Sequence[str] = ()) -> None:
        """Commit one batch to the store, then to a copy of the index that replaces the live one."""
        if not writes and not removals:
            return
        removed, added = self._store.write(writes, removals, self._build.as_meta())
        vectors = [w.vectors for w in writes if len(w.vectors)]
        index = self._index.copy()
        index.remove(np.asarray(removed, np.int64))
        if vectors:
            index.add(np.asarray(added, np.int64), np.vstack(vectors))
        with self._lock:
            self._index = index
            self._snapshot_cache = None

    def add(
        self,
        sources: Iterable[Path | SourceFile],
        progress: Progress = _no_progress,
    ) -> IngestReport:
        """Ingest files and folders: new documents are added, changed ones replace only their own
        chunks.

        Bad files are reported in ``IngestReport.problems`` and never stop the rest. Documents are
        committed in batches of ``ingest_commit_every``; a crash loses at most the batch in flight,
        and the index on disk is always either the previous one or one the next open rebuilds from
        the store.
        """
        files, problems = expand(s if isinstance(s, SourceFile) else SourceFile(s) for s in sources)
        report = IngestReport(problems=list(problems))
        docs, file_problems = read_all(
            files,
            self.settings.max_file_bytes,
            self._languages.detect,
            lambda done, total: progress("read", done, total),
        )
        report.problems.extend(file_problems)
        with self._lock:
            stored = self._store.hashes()
            todo: list[tuple[Document, str]] = []
            for doc in docs:
                digest = content_hash(doc)
                if stored.get(doc.doc_id) == digest:
                    report.unchanged.append(doc.doc_id)
                else:
                    todo.append((doc, digest))
            if todo:
                planned = [(doc, digest, self._chunk(doc)) for doc, digest in todo]
                for w in self._embed_and_write(planned, progress):
                    doc_id = w.document.doc_id
                    (report.updated if doc_id in stored else report.added).append(doc_id)
                    report.n_chunks += len(w.chunks)
                self._save()
        logger.info(
            "kb_ingest added=%d updated=%d unchanged=%d problems=%d",
            len(report.added),
            len(report.updated),
            len(report.unchanged),
            len(report.problems),
        )
        return report

    def remove(self, doc_id: str) -> None:
        """Delete a document and its passages; they are never returned by a search again.

        Raises:
            DocumentNotFoundError: No document has this id.
        """
        with self._lock:
            if not self._store.has_document(doc_id):
                raise DocumentNotFoundError(
                    f"no document {doc_id!r} in KB {self.settings.kb_name!r}"
                )
            self._apply([], [doc_id])
            self._save()
        logger.info("kb_remove doc_id=%s", doc_id)

    def rebuild(self, progress: Progress = _no_progress) -> int:
        """Re-chunk and re-embed every stored document with the configured model, then build a fresh
        index.

        This is the way out of `IndexManifestMismatchError` after changing the embedding model or
        chunking.

        Returns:
            The number of passages indexed.
        """
        with self._lock:
            docs = self._store.documents()
            planned = [(d, content_hash(d), self._chunk(d)) for d in docs]
            self._embed_and_write(planned, progress)
            progress("index", 0, 1)
            self._index = index_from_store(self._store, self._index_dir, self._build, self.settings)
            self._generation = self._store.generation()
            progress("index", 1, 1)
            self._snapshot_cache = None
            return self._index.ntotal

    # ----- other processes' writes -----------------------------------------------------------

    @property
    def generation(self) -> int:
        """The store generation the index and searches reflect."""
        return self._generation

    def has_newer_version(self) -> bool:
        """True when the store has commits this KB has not loaded (one small SQLite read).

        Another process (`copilot kb add`, another replica) wrote to the same folder; WAL mode and a
        fresh read transaction per call make its commits visible here.
        """
        return self._store.generation() != self._generation

    def load_newer_version(self) -> bool:
        """Load the version another process committed, once its index is saved; swap it in.

        The new index and snapshot are built in the calling thread, then replace the old ones under
        the lock. Searches already running keep the old snapshot (immutable). Until the writer has
        saved an index matching its commit, or while it keeps committing, the old version stays.

        Returns:
            True when a newer version was loaded.
        """
        loaded = self._generation
        generation = self._store.generation()
        if generation == loaded:
            return False
        index = saved_index_at(self._index_dir, generation, self._build, self.settings)
        if index is None:
            logger.debug("kb_reload_waiting store_generation=%d", generation)
            return False
        snapshot = take_snapshot(self._store, index, self.embedder, self.reranker, self.settings)
        # The snapshot reads the store in several transactions: an unchanged generation proves
        # they all saw the commit the index matches.
        if self._store.generation() != generation:
            return False
        with self._lock:
            if self._generation != loaded:  # this process wrote meanwhile: its version stands
                return False
            self._index = index
            self._snapshot_cache = snapshot
            self._generation = generation
        return True

    # ----- reads -----------------------------------------------------------------------------

    def list_documents(self) -> list[DocumentInfo]:
        """Every document with its metadata, version and number of passages."""
        return self._store.document_infos()

    def documents(self) -> list[Document]:
        """Every document with its full text, in one read (for scanning the whole KB)."""
        return self._store.documents()

    def document(self, doc_id: str) -> tuple[Document, list[Chunk]]:
        """One document with its passages in reading order (for showing a suggestion's source).

        Raises:
            DocumentNotFoundError: No document has this id.
        """
        found = self._store.document(doc_id)
        if found is None:
            raise DocumentNotFoundError(f"no document {doc_id!r} in KB {self.settings.kb_name!r}")
        return found

    @property
    def n_passages(self) -> int:
        """Number of passages in the index."""
        return self._index.ntotal

    def warm_up(self) -> None:
        """Pay the first model calls' one-off costs before live traffic."""
        self._snapshot().retriever.search(self.query_for("warm up"), k=1)

    def warm_reranker(self) -> None:
        """Let the reranker prepare every passage (slow for a large KB: run it in background)."""
        self._snapshot().retriever.warm_reranker()

    def query_for(self, query: str | Sequence[DialogueTurn]) -> RetrievalQuery:
        """The retrieval query for a text or a conversation (see `build_query`)."""
        vocabulary = self._snapshot().vocabulary
        turns = [DialogueTurn(Speaker.CUSTOMER, query)] if isinstance(query, str) else query
        return build_query(
            turns,
            vocabulary,
            self.settings.dialogue_turns,
            self.settings.context_turns,
            self.settings.subject_turns,
        )

    def search(
        self,
        query: str | Sequence[DialogueTurn] | RetrievalQuery,
        k: int = 5,
        filters: SearchFilters = NO_FILTERS,
        mode: RetrievalMode = RetrievalMode.RERANK,
        query_vector: NDArray[np.float32] | None = None,
        turn_vector: NDArray[np.float32] | None = None,
    ) -> list[SearchHit]:
        """Search with a question, or with a conversation whose last customer turn is the question.

        Args:
            query: A text, the dialogue so far (oldest first), or a query `query_for` built.
            k: How many hits at most; one passage per document.
            filters: Client, language and tag restrictions.
            mode: Which retrieval stages run (default: hybrid with reranking).
            query_vector: The dense query of ``query_for(query)`` (`dense_vector`), when computed.
            turn_vector: The embedding of the last turn alone, when computed.

        Returns:
            Hits best first; empty for an empty KB or an empty query.
        """
        built = query if isinstance(query, RetrievalQuery) else self.query_for(query)
        return self._snapshot().retriever.search(built, k, filters, mode, query_vector, turn_vector)
