"""Keep the FAISS index on disk in step with the SQLite store that is the source of truth."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from copilot.errors import IndexCorruptError, IndexManifestMismatchError
from copilot.kb.chunk import CHUNKER_VERSION
from copilot.kb.index import FaissIndex, IndexManifest
from copilot.kb.store import KbStore
from copilot.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """What the stored vectors depend on: a change to any of it means re-embedding."""

    embedder: str
    dim: int
    chunker: str

    @classmethod
    def of(cls, embedder_name: str, dim: int, settings: Settings) -> BuildInfo:
        """The build info for this embedder and the chunking settings."""
        chunker = f"{CHUNKER_VERSION}:{settings.chunk_max_chars}:{settings.chunk_overlap_chars}"
        return cls(embedder_name, dim, chunker)

    def as_meta(self) -> dict[str, str]:
        """The store's ``kb_meta`` rows for this build."""
        return {
            "embedder": self.embedder,
            "dim": str(self.dim),
            "normalized": "true",
            "chunker": self.chunker,
        }


def check_compatible(store: KbStore, info: BuildInfo, settings: Settings) -> None:
    """Refuse a store whose vectors were built by another model, dimension or chunker.

    Raises:
        IndexManifestMismatchError: Naming what differs and how to fix it.
    """
    meta = store.meta()
    if "embedder" not in meta:
        return
    diffs = [
        f"{key}: stored {meta.get(key)!r}, configured {value!r}"
        for key, value in info.as_meta().items()
        if meta.get(key) != value
    ]
    if diffs:
        raise IndexManifestMismatchError(
            f"KB {settings.kb_name!r} in {settings.kb_dir} was built differently "
            f"({'; '.join(diffs)}). Run `copilot kb rebuild` to re-embed it with the "
            "configured model."
        )


def save_index(index: FaissIndex, folder: Path, store: KbStore, info: BuildInfo) -> int:
    """Save the index with a manifest naming the store generation it matches.

    Returns:
        That generation.
    """
    manifest = IndexManifest(
        embedder=info.embedder,
        dim=info.dim,
        normalized=True,
        chunker_version=info.chunker,
        generation=store.generation(),
        n_vectors=index.ntotal,
        kind=index.kind,
    )
    index.save(folder, manifest)
    return manifest.generation


def index_from_store(
    store: KbStore, folder: Path, info: BuildInfo, settings: Settings
) -> FaissIndex:
    """Build FAISS from the vectors in the store (no re-embedding) and save it."""
    ids, vectors = [], []
    for chunk in store.chunks(info.dim):
        ids.append(chunk.chunk_id)
        vectors.append(chunk.vector)
    matrix = np.vstack(vectors) if vectors else np.zeros((0, info.dim), np.float32)
    index = FaissIndex.build(
        np.asarray(ids, np.int64), matrix, info.dim, settings.ann_threshold, settings.ivf_nprobe
    )
    save_index(index, folder, store, info)
    logger.info("index_built_from_store n_vectors=%d kind=%s", index.ntotal, index.kind)
    return index


def load_index(store: KbStore, folder: Path, info: BuildInfo, settings: Settings) -> FaissIndex:
    """The saved index if it matches the store's generation and model, else one rebuilt from it.

    A crash between a store commit and the index save leaves an older manifest generation, so the
    index is rebuilt here rather than trusted.
    """
    try:
        loaded = FaissIndex.load(folder, settings.ivf_nprobe)
    except IndexCorruptError as exc:  # the store holds every vector: rebuild rather than fail
        logger.warning("index_unreadable rebuilding_from_store=true error=%s", exc)
        loaded = None
    generation = store.generation()
    if loaded is not None:
        index, manifest = loaded
        if manifest.generation == generation and manifest.embedder == info.embedder:
            return index
        logger.warning(
            "index_stale index_generation=%d store_generation=%d", manifest.generation, generation
        )
    return index_from_store(store, folder, info, settings)


def saved_index_at(
    folder: Path, generation: int, info: BuildInfo, settings: Settings
) -> FaissIndex | None:
    """The saved index if its manifest names ``generation`` and this model, else None.

    For a reader following another process's writes: that writer saves the index after its store
    commit, so until the save lands the reader keeps what it has rather than rebuilding (and
    writing) the index itself.
    """
    try:
        loaded = FaissIndex.load(folder, settings.ivf_nprobe)
    except IndexCorruptError:  # met the writer mid-save: the next poll reads the finished pair
        return None
    if loaded is None:
        return None
    index, manifest = loaded
    if (manifest.generation, manifest.embedder, manifest.dim) != (
        generation,
        info.embedder,
        info.dim,
    ):
        return None
    return index
