"""FAISS index over passage vectors: exact when small, IVF above a threshold; saved atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import faiss
import numpy as np
from numpy.typing import NDArray

from copilot.errors import IndexCorruptError

logger = logging.getLogger(__name__)

INDEX_FILE = "faiss.index"
MANIFEST_FILE = "manifest.json"
_MAX_SELECTORS = 64
"""Search filters kept per index, as many as `PassageTable` keeps filters."""
_ID_HASHTABLE: int = faiss.DirectMap.Hashtable  # type: ignore[attr-defined]  # not in faiss's stubs


@dataclass(frozen=True, slots=True)
class IndexManifest:
    """What built an index; compared with the store and the configured model when loading."""

    embedder: str
    dim: int
    normalized: bool
    chunker_version: str
    generation: int
    n_vectors: int
    kind: str
    sha256: str = ""
    """Of the index file, set by `FaissIndex.save`: a reader that meets a torn pair (another
    process replacing both files) or a damaged file refuses it. Empty in older manifests."""


class FaissIndex:
    """Inner-product search over unit vectors (so scores are cosines), keyed by chunk id.

    ``kind`` is ``"flat"`` (exact) or ``"ivf"`` (approximate; inverted lists keep removal cheap,
    unlike HNSW). An IVF index keeps a map from chunk id to its stored vector, so `cosines` reads
    the chosen chunks' vectors rather than scanning every list.
    """

    def __init__(self, index: faiss.Index, dim: int, kind: str, nprobe: int = 16) -> None:
        self._index = index
        self.dim = dim
        self.kind = kind
        self._nprobe = nprobe
        if kind == "ivf":
            ivf = faiss.extract_index_ivf(index)
            if ivf.direct_map.type != _ID_HASHTABLE:
                ivf.set_direct_map_type(_ID_HASHTABLE)
        self._selectors: dict[int, tuple[NDArray[np.int64], faiss.IDSelector]] = {}
        self._selectors_lock = threading.Lock()

    @classmethod
    def build(
        cls,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        dim: int,
        ann_threshold: int,
        nprobe: int = 16,
    ) -> FaissIndex:
        """Index ``vectors`` ``(n, dim)``: exact below ``ann_threshold`` vectors, else IVF."""
        n = len(ids)
        if n >= ann_threshold:
            nlist = max(16, int(4 * np.sqrt(n)))
            quantizer = faiss.IndexFlatIP(dim)
            index: faiss.Index = faiss.IndexIVFFlat(
                quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT
            )
            index.train(vectors)
            kind = "ivf"
        else:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
            kind = "flat"
        out = cls(index, dim, kind, nprobe)
        out.add(ids, vectors)
        return out

    def copy(self) -> FaissIndex:
        """An independent copy, so a writer can change it while readers keep searching this one."""
        return FaissIndex(faiss.clone_index(self._index), self.dim, self.kind, self._nprobe)

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return int(self._index.ntotal)

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Add unit vectors ``(n, dim)`` under the given chunk ids."""
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, np.float32), ids.astype(np.int64)
            )

    def remove(self, ids: NDArray[np.int64]) -> None:
        """Remove the vectors of these chunk ids (unknown ids are ignored)."""
        if len(ids):
            ids = np.ascontiguousarray(ids, np.int64)
            # The IVF id map can only drop ids listed one by one.
            select = faiss.IDSelectorArray if self.kind == "ivf" else faiss.IDSelectorBatch
            self._index.remove_ids(select(ids))

    def search(
        self, query: NDArray[np.float32], k: int, allowed: NDArray[np.int64] | None = None
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` chunk ids and cosines for one unit query vector ``(dim,)``.

        Args:
            query: Unit vector of the embedding model that built the index.
            k: How many results at most.
            allowed: When given, only these chunk ids can be returned (metadata filters).

        Returns:
            ``(scores, ids)``, best first, without the ``-1`` padding FAISS adds when fewer exist.
        """
        if allowed is not None and len(allowed) == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        params: faiss.SearchParameters
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF()
            params.nprobe = self._nprobe
        else:
            params = faiss.SearchParameters()
        if allowed is not None:
            params.sel = self._selector(allowed)
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def _selector(self, allowed: NDArray[np.int64]) -> faiss.IDSelector:
        """The search filter for ``allowed``, built once per array.

        The passage table hands out one array per metadata filter (`PassageTable.allowed`), and
        building a selector walks it: 2 ms a search for a client's 33k passages of 100k. The
        entry keeps its array alive, so the array's ``id`` cannot be reused while cached.
        """
        key = id(allowed)
        with self._selectors_lock:
            cached = self._selectors.get(key)
            if cached is not None and cached[0] is allowed:
                return cached[1]
            selector = faiss.IDSelectorBatch(allowed)
            if len(self._selectors) >= _MAX_SELECTORS:
                del self._selectors[next(iter(self._selectors))]
            self._selectors[key] = (allowed, selector)
            return selector

    def cosines(self, query: NDArray[np.float32], ids: NDArray[np.int64]) -> dict[int, float]:
        """Cosines of one unit query with these chunks (ids not in the index are left out).

        Reads the chunks' stored vectors: an IVF search probes only the lists near the query and
        could miss chunks that another query found, and probing every list scans the whole KB.
        """
        if not len(ids):
            return {}
        ids = np.ascontiguousarray(ids, np.int64)
        try:
            vectors = self._index.reconstruct_batch(ids)
        except RuntimeError:  # some id is not indexed: read the others one by one
            kept, rows = [], []
            for cid in ids.tolist():
                try:
                    rows.append(self._index.reconstruct(cid))
                except RuntimeError:
                    continue
                kept.append(cid)
            if not kept:
                return {}
            ids, vectors = np.asarray(kept, np.int64), np.stack(rows)
        scores = vectors @ query.astype(np.float32)
        return dict(zip(ids.tolist(), scores.tolist(), strict=True))

    def save(self, folder: Path, manifest: IndexManifest) -> None:
        """Write index then manifest, each through a temporary file and an atomic rename.

        A crash between the two leaves an old manifest whose generation no longer matches the store,
        so the index is rebuilt from stored vectors on the next load rather than trusted.
        """
        folder.mkdir(parents=True, exist_ok=True)
        data = faiss.serialize_index(self._index).tobytes()
        manifest = replace(manifest, sha256=hashlib.sha256(data).hexdigest())
        _atomic_write(folder / INDEX_FILE, data)
        _atomic_write(folder / MANIFEST_FILE, json.dumps(asdict(manifest), indent=2).encode())

    @classmethod
    def load(cls, folder: Path, nprobe: int = 16) -> tuple[FaissIndex, IndexManifest] | None:
        """Read a saved index, or None when there is none yet.

        Raises:
            IndexCorruptError: The files exist but cannot be read, or the index is not the one
                its manifest describes.
        """
        if not (folder / MANIFEST_FILE).exists() or not (folder / INDEX_FILE).exists():
            return None
        try:
            manifest = IndexManifest(**json.loads((folder / MANIFEST_FILE).read_text()))
            raw = (folder / INDEX_FILE).read_bytes()
            if manifest.sha256 and hashlib.sha256(raw).hexdigest() != manifest.sha256:
                raise ValueError("index file does not match its manifest's checksum")
            index = faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8))
        except (ValueError, TypeError, RuntimeError) as exc:
            raise IndexCorruptError(f"cannot read index in {folder}: {exc}") from exc
        return cls(index, manifest.dim, manifest.kind, nprobe), manifest


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
