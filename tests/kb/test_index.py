"""The FAISS wrapper: cosines with chosen chunks, exact and IVF alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from copilot.kb.index import FaissIndex, IndexManifest


def _unit(rows: int, dim: int, seed: int) -> NDArray[np.float32]:
    v = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    unit: NDArray[np.float32] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return unit


@pytest.mark.parametrize("ann_threshold", [10_000, 100])
def test_cosines_with_chosen_chunks_are_exact_even_far_from_the_query(ann_threshold: int) -> None:
    """An IVF search probes the lists near the query; asking for given chunks must not miss
    the ones in lists it would not probe."""
    vectors = _unit(2_000, 32, seed=1)
    ids = np.arange(100, 2_100, dtype=np.int64)
    index = FaissIndex.build(ids, vectors, 32, ann_threshold, nprobe=1)
    assert index.kind == ("ivf" if ann_threshold == 100 else "flat")
    query = _unit(1, 32, seed=2)[0]
    exact = vectors @ query
    farthest = ids[np.argsort(exact)[:5]]  # the least similar chunks: in lists far away
    wanted = np.concatenate([farthest, np.array([99_999], dtype=np.int64)])
    got = index.cosines(query, wanted)
    assert set(got) == set(farthest.tolist())  # an unknown id is left out
    for cid, score in got.items():
        assert score == pytest.approx(float(exact[cid - 100]), abs=1e-5)
    assert index.cosines(query, np.zeros(0, dtype=np.int64)) == {}


@pytest.mark.parametrize("ann_threshold", [10_000, 100])
def test_removed_chunks_have_no_cosine_after_copy_save_and_load(
    ann_threshold: int, tmp_path: Path
) -> None:
    """The id -> vector map an IVF index keeps for `cosines` follows removals and re-adds, and is
    there again in a copy and after a reload."""
    vectors = _unit(1_000, 16, seed=3)
    ids = np.arange(1_000, dtype=np.int64) * 7 + 5
    index = FaissIndex.build(ids, vectors, 16, ann_threshold)
    index.remove(ids[:10])
    index.add(ids[:2], vectors[:2])  # re-indexed: an update of two passages
    query = _unit(1, 16, seed=4)[0]
    expected = {int(c): float(v @ query) for c, v in zip(ids[:20], vectors[:20], strict=True)}
    expected = {c: s for c, s in expected.items() if c not in set(ids[2:10].tolist())}
    manifest = IndexManifest("e", 16, True, "1", 1, index.ntotal, index.kind)
    index.save(tmp_path, manifest)
    loaded = FaissIndex.load(tmp_path)
    assert loaded is not None
    for each in (index, index.copy(), loaded[0]):
        got = each.cosines(query, ids[:20])
        assert got.keys() == expected.keys()
        for cid, score in got.items():
            assert score == pytest.approx(expected[cid], abs=1e-5)


@pytest.mark.parametrize("ann_threshold", [10_000, 100])
def test_each_filter_array_keeps_its_own_results(ann_threshold: int) -> None:
    """Filters are kept per array: two filters searched in turn, again and again, each return
    only their own chunks, and the exact best of them."""
    vectors = _unit(1_000, 16, seed=5)
    ids = np.arange(1_000, dtype=np.int64)
    index = FaissIndex.build(ids, vectors, 16, ann_threshold, nprobe=1_000)  # every list
    even, odd = ids[ids % 2 == 0], ids[ids % 2 == 1]
    query = _unit(1, 16, seed=6)[0]
    for _ in range(3):
        for allowed in (even, odd, even.copy()):
            _, found = index.search(query, 5, allowed)
            assert set(found.tolist()) <= set(allowed.tolist())
            assert found[0] == allowed[np.argmax(vectors[allowed] @ query)]
