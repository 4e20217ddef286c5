"""The FAISS wrapper: cosines with chosen chunks, exact and IVF alike."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from copilot.kb.index import FaissIndex


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
