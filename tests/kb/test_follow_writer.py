"""A KB open in one process loads the versions another KB on the same folder commits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.domain import SearchHit
from copilot.errors import IndexCorruptError
from copilot.kb import KnowledgeBase
from copilot.kb.index import INDEX_FILE, FaissIndex
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.settings import Settings

_LOST_CARD = "me robaron la tarjeta oro"
_RETURN = "quero devolver um produto"


@pytest.fixture
def reader(
    open_kb: KnowledgeBase, settings: Settings, e5: Embedder, detector: LanguageDetector
) -> Iterator[KnowledgeBase]:
    """A second KB on the writer's folder, as a service replica opens it."""
    kb = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    yield kb
    kb.close()


def _doc_ids(hits: list[SearchHit]) -> set[str]:
    return {h.doc_id for h in hits}


def test_refresh_makes_the_other_kbs_document_searchable_while_old_searches_go_on(
    open_kb: KnowledgeBase, reader: KnowledgeBase, kb_sources: Path
) -> None:
    open_kb.add([kb_sources / "bank-es-bloqueo.md"])
    assert reader.load_newer_version()
    assert reader.search(_LOST_CARD, k=1)[0].doc_id == "bank-es-bloqueo"
    # As a search in flight holds it (private on purpose: only a refresh swaps it).
    held = reader._snapshot()
    query = reader.query_for(_RETURN)

    open_kb.add([kb_sources / "ret-pt-devolucao.md"])
    assert reader.has_newer_version()
    assert reader.load_newer_version()

    assert not reader.has_newer_version()
    assert reader.generation == open_kb.generation
    assert reader.n_passages == open_kb.n_passages
    assert reader.search(_RETURN, k=1)[0].doc_id == "ret-pt-devolucao"
    old = held.retriever.search(query, k=3)
    assert _doc_ids(old) == {"bank-es-bloqueo"}
    assert not reader.load_newer_version()


def test_refresh_keeps_the_old_version_until_the_writer_saves_its_index(
    open_kb: KnowledgeBase,
    reader: KnowledgeBase,
    kb_sources: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    open_kb.add([kb_sources / "bank-es-bloqueo.md"])
    assert reader.load_newer_version()
    before = reader.generation

    def not_yet(*_args: object) -> None:
        raise OSError("index save held back")

    monkeypatch.setattr(FaissIndex, "save", not_yet)
    with pytest.raises(OSError, match="held back"):
        open_kb.add([kb_sources / "ret-pt-devolucao.md"])
    monkeypatch.undo()

    assert reader.has_newer_version()
    assert not reader.load_newer_version()
    assert reader.generation == before
    assert _doc_ids(reader.search(_RETURN, k=3)) == {"bank-es-bloqueo"}

    open_kb.add([kb_sources / "tel-en-outage.txt"])  # its save covers the held-back commit too
    assert reader.load_newer_version()
    assert reader.search(_RETURN, k=1)[0].doc_id == "ret-pt-devolucao"
    assert reader.n_passages == open_kb.n_passages


def _tear(folder: Path) -> None:
    """What a reader meets mid-save: the writer replaced the index, not yet its manifest."""
    index = folder / INDEX_FILE
    data = index.read_bytes()
    index.write_bytes(data[:-16] + bytes(b ^ 0xFF for b in data[-16:]))


def test_an_index_that_does_not_match_its_manifests_checksum_is_not_loaded(
    open_kb: KnowledgeBase, reader: KnowledgeBase, kb_sources: Path, settings: Settings
) -> None:
    open_kb.add([kb_sources / "bank-es-bloqueo.md"])
    assert reader.load_newer_version()
    before = reader.generation
    open_kb.add([kb_sources / "ret-pt-devolucao.md"])
    folder = settings.kb_dir / "index"
    pristine = (folder / INDEX_FILE).read_bytes()
    _tear(folder)
    with pytest.raises(IndexCorruptError, match="checksum"):
        FaissIndex.load(folder)
    assert not reader.load_newer_version()
    assert reader.generation == before
    (folder / INDEX_FILE).write_bytes(pristine)  # the writer's save completes
    assert reader.load_newer_version()
    assert reader.search(_RETURN, k=1)[0].doc_id == "ret-pt-devolucao"


def test_a_damaged_index_is_rebuilt_from_the_store_on_open(
    open_kb: KnowledgeBase,
    kb_sources: Path,
    settings: Settings,
    e5: Embedder,
    detector: LanguageDetector,
) -> None:
    open_kb.add([kb_sources / "bank-es-bloqueo.md"])
    _tear(settings.kb_dir / "index")
    kb = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    try:
        assert kb.search(_LOST_CARD, k=1)[0].doc_id == "bank-es-bloqueo"
    finally:
        kb.close()
    assert FaissIndex.load(settings.kb_dir / "index") is not None  # saved anew, checksum right
