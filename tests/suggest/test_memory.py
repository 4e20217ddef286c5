"""Team memory keeps each remembered reply once, however many times it is handed in."""

from __future__ import annotations

import threading

from copilot.models.embedding import Embedder
from copilot.suggest.memory import Remembered, TeamMemory

_LOST = Remembered("s-1", "me robaron la tarjeta", "La bloqueamos ya mismo.", "es", "bank", "a-1")
_RETURN = Remembered(
    "s-2", "quero devolver um produto", "Claro, vou abrir a troca.", "pt", None, "a-2"
)


def test_add_keeps_a_suggestion_once_when_it_is_learned_and_read_again(e5: Embedder) -> None:
    memory = TeamMemory(e5)

    assert memory.add([_LOST]) == 1
    assert memory.add([_LOST, _RETURN, _RETURN]) == 1
    assert memory.add([_RETURN]) == 0

    assert len(memory) == 2
    assert "s-1" in memory
    assert "s-3" not in memory
    query = e5.embed_queries(["me robaron la tarjeta"])[0]
    match = memory.best(query, "bank", "es", 0.5)
    assert match is not None
    assert match.item == _LOST


def test_add_from_two_threads_at_once_keeps_one_copy(e5: Embedder) -> None:
    memory = TeamMemory(e5)
    start = threading.Barrier(4)
    counts: list[int] = []

    def add() -> None:
        start.wait()
        counts.append(memory.add([_LOST, _RETURN]))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(memory) == 2
    assert sum(counts) == 2
