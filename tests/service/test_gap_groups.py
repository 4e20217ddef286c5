"""Greedy grouping of KB-gap questions: by mean cosine with a group's members, biggest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from copilot.models.embedding import Embedder
from copilot.service.gap_groups import cluster, gap_groups
from copilot.service.reports import auto_bucket
from copilot.settings import Settings
from copilot.storage.analytics_records import GapTurn, TimeBucket

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _unit(*rows: list[float]) -> NDArray[np.float32]:
    arr = np.asarray(rows, np.float32)
    unit: NDArray[np.float32] = arr / np.linalg.norm(arr, axis=1, keepdims=True)
    return unit


def test_rows_join_the_nearest_group_only_above_the_threshold() -> None:
    vectors = _unit([1, 0, 0], [0.95, 0.3, 0], [0, 1, 0], [0.9, 0, 0.4], [0, 0, 1])
    # Row 3 has cosine 0.903 with the centroid of rows 0 and 1 but 0.893 with them on average.
    assert cluster(vectors, 0.9) == [[0, 1], [2], [3], [4]]
    assert cluster(vectors, 0.89) == [[0, 1, 3], [2], [4]]
    assert cluster(vectors, 0.999) == [[0], [1], [2], [3], [4]]


ORDER_LATE = "Meu pedido ainda não chegou"
DEFECTIVE_SHOES = "Quero devolver um tênis com defeito"
SHOES_PARAPHRASE = "O tênis veio com defeito e quero devolver"
ORDER_PARAPHRASE = "A minha encomenda não foi entregue até agora"


def test_default_threshold_keeps_a_late_order_apart_from_a_defective_return(e5: Embedder) -> None:
    threshold = Settings(_env_file=None).gap_cluster_similarity
    apart = e5.embed_queries([ORDER_LATE, DEFECTIVE_SHOES])
    assert cluster(apart, threshold) == [[0], [1]]
    together = e5.embed_queries([DEFECTIVE_SHOES, SHOES_PARAPHRASE])
    assert cluster(together, threshold) == [[0, 1]]
    pool = e5.embed_queries([ORDER_LATE, DEFECTIVE_SHOES, ORDER_PARAPHRASE, SHOES_PARAPHRASE])
    assert cluster(pool, threshold) == [[0, 2], [1, 3]]


def test_groups_carry_count_representative_languages_and_last_seen() -> None:
    def turn(i: int, text: str, language: str, reason: str) -> GapTurn:
        return GapTurn(
            f"c{i}", "t1", text, language, "bank", T0 - timedelta(minutes=i), None, reason
        )

    turns = [
        turn(0, "roaming fees", "en", "kb_gap"),
        turn(1, "tarifas de roaming", "es", "rejected"),
        turn(2, "pet insurance", "en", "kb_gap"),
        turn(3, "roaming fees", "en", "kb_gap"),
    ]
    vectors = _unit([1, 0.1], [1, 0], [0, 1], [1, 0.1])
    roaming, pets = gap_groups(turns, vectors, 0.9)
    assert (roaming.count, roaming.representative) == (3, "roaming fees")
    assert roaming.examples == ("roaming fees", "tarifas de roaming")
    assert (roaming.languages, roaming.reasons) == (("en", "es"), {"kb_gap": 2, "rejected": 1})
    assert roaming.last_seen == T0
    assert roaming.turns == (("c0", "t1"), ("c1", "t1"), ("c3", "t1"))
    assert (pets.count, pets.clients) == (1, ("bank",))


def test_automatic_buckets_are_hourly_up_to_two_days() -> None:
    assert auto_bucket(T0, T0 + timedelta(days=2)) is TimeBucket.HOUR
    assert auto_bucket(T0, T0 + timedelta(days=2, seconds=1)) is TimeBucket.DAY
    assert TimeBucket.DAY.start_of(T0 + timedelta(hours=5)) == T0.replace(hour=0)
