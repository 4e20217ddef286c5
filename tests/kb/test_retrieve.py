"""Score fusion and metadata filtering on hand-made candidate lists; long turns on the real KB."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.domain import DialogueTurn, DocumentInfo, SearchFilters, Speaker
from copilot.kb import KnowledgeBase
from copilot.kb.chunk import passage_text
from copilot.kb.fusion import convex, rrf
from copilot.kb.lexical import LexicalIndex
from copilot.kb.retrieve import PassageTable, RetrievalMode
from copilot.models.embedding import Embedder
from tests.conftest import long_text


def _info(doc_id: str, client: str, language: str, tags: tuple[str, ...]) -> DocumentInfo:
    return DocumentInfo(doc_id, doc_id, "src", language, client, tags, (), 1, 1, "h")


def test_convex_fusion_weighs_cosine_and_bm25_and_floors_missing_cosines() -> None:
    fused = convex({1: 0.9, 2: 0.5}, {2: 1.0, 3: 0.5}, lexical_weight=0.2)
    assert fused[1] == pytest.approx(0.72)
    assert fused[2] == pytest.approx(0.6)
    assert fused[3] == pytest.approx(0.8 * 0.5 + 0.2 * 0.5)  # cosine floor is the weakest seen


def test_weak_keyword_match_does_not_outrank_a_strong_cosine() -> None:
    """Why scores are fused, not ranks: rank alone ignores how weak a match is."""
    dense = {10: 0.90, 11: 0.89, 12: 0.88, 13: 0.87}
    lexical = {13: 0.05}  # the only lexical hit, a barely matching same-language passage
    by_score = convex(dense, lexical, 0.1)
    by_rank = rrf(dense, lexical, 60)
    assert max(by_score, key=lambda cid: by_score[cid]) == 10
    assert max(by_rank, key=lambda cid: by_rank[cid]) == 13


def test_rrf_scores_one_for_first_in_both_lists() -> None:
    fused = rrf({1: 0.9, 2: 0.1}, {1: 3.0}, rrf_k=60)
    assert fused[1] == pytest.approx(1.0)
    assert fused[2] == pytest.approx(61 / (2 * 62))


def test_filters_select_chunks_by_client_language_and_any_tag() -> None:
    docs = {
        "a": _info("a", "bank", "es", ("cards",)),
        "b": _info("b", "bank", "en", ("cards", "travel")),
        "c": _info("c", "retail", "es", ("returns",)),
    }
    table = PassageTable(
        np.array([5, 6, 7, 8], np.int64),
        ["a", "a", "b", "c"],
        ["", "", "", ""],
        ["", "", "", ""],
        docs,
    )
    assert table.allowed(SearchFilters()) is None
    assert table.allowed(SearchFilters(client="bank")).tolist() == [5, 6, 7]  # type: ignore[union-attr]
    assert table.allowed(SearchFilters(language="es")).tolist() == [5, 6, 8]  # type: ignore[union-attr]
    both = SearchFilters(client="bank", tags=("travel", "returns"))
    assert table.allowed(both).tolist() == [7]  # type: ignore[union-attr]


def test_a_long_turn_finds_the_gold_passage_of_a_question_at_its_start_or_its_end(
    filled_kb: KnowledgeBase,
) -> None:
    """A 3,000-character turn is read as its head and tail, which hold the question."""
    filler = long_text()
    cases = {
        "me robaron la tarjeta oro que hago": "bank-es-bloqueo",
        "Is there a network outage in the north region? I have no signal": "tel-en-outage",
        "what happens when the data runs out abroad with Plan Viajero?": "tel-en-roaming-viajero",
    }
    for question, gold in cases.items():
        assert filled_kb.search(filler, k=1)[0].doc_id != gold
        for turn in (f"{question} {filler}", f"{filler} {question}"):
            assert filled_kb.search(turn, k=3)[0].doc_id == gold


def test_hits_carry_the_turns_own_cosine_and_whether_context_was_mixed_in(
    filled_kb: KnowledgeBase, e5: Embedder
) -> None:
    """A single question's turn cosine is the dense one; a follow-up's is the turn alone's, which
    the context lifts (the confidence model reads both)."""
    single = filled_kb.search("what happens when the data runs out abroad?", k=3)
    assert not any(h.dialogue for h in single)
    assert all(h.turn == pytest.approx(h.dense) for h in single)
    follow_up = "and how much does it cost?"
    dialogue = [
        DialogueTurn(Speaker.CUSTOMER, "I travel to Chile next week with Plan Viajero"),
        DialogueTurn(Speaker.AGENT, "Plan Viajero includes roaming in South America."),
        DialogueTurn(Speaker.CUSTOMER, follow_up),
    ]
    hits = filled_kb.search(dialogue, k=3)
    assert all(h.dialogue for h in hits)
    turn = e5.embed_queries([follow_up])[0]
    top = hits[0]
    passage = e5.embed_passages([passage_text(top.title, top.section, top.text)])[0]
    assert top.turn == pytest.approx(float(passage @ turn), abs=0.02)
    assert top.turn < top.dense  # the context, not the bare follow-up, found it


def test_bm25_sits_out_a_follow_up_whose_words_name_no_subject(filled_kb: KnowledgeBase) -> None:
    """ "How long will that take?" names the fact, not the subject the dialogue named before: the
    hybrid ranks it as dense retrieval does, with no BM25 score on any hit."""
    follow_up = "how long will that take?"
    dialogue = [
        DialogueTurn(Speaker.CUSTOMER, "I have had no signal since yesterday up in the north"),
        DialogueTurn(Speaker.AGENT, "A tower in your region is being repaired."),
        DialogueTurn(Speaker.CUSTOMER, follow_up),
    ]
    query = filled_kb.query_for(dialogue)
    assert query.follow_up
    hybrid = filled_kb.search(query, k=3, mode=RetrievalMode.HYBRID)
    dense = filled_kb.search(query, k=3, mode=RetrievalMode.DENSE)
    assert [h.doc_id for h in hybrid] == [h.doc_id for h in dense]
    assert hybrid[0].doc_id == "tel-en-outage"
    assert all(h.lexical == 0.0 for h in hybrid)
    # A question on its own keeps BM25 in the hybrid.
    single = filled_kb.query_for("how long will the outage in the north region last?")
    assert not single.follow_up
    assert any(h.lexical > 0 for h in filled_kb.search(single, k=3, mode=RetrievalMode.HYBRID))


def test_filtered_chunk_ids_are_worked_out_once_per_filter() -> None:
    docs = {"a": _info("a", "bank", "es", ()), "b": _info("b", "retail", "es", ())}
    table = PassageTable(np.array([3, 4, 9], np.int64), ["a", "b", "a"], [""] * 3, [""] * 3, docs)
    bank = table.allowed(SearchFilters(client="bank"))
    assert bank is not None
    assert bank.tolist() == [3, 9]
    assert table.allowed(SearchFilters(client="bank")) is bank
    assert table.allowed(SearchFilters(client="retail")).tolist() == [4]  # type: ignore[union-attr]


def test_bm25_top_k_among_allowed_chunks_is_the_full_ranking_cut() -> None:
    """The k best by partial selection are the first k of sorting every score, ties by row."""
    rng = np.random.default_rng(3)
    words = ["tarjeta", "bloqueo", "envío", "pedido", "clave", "cuenta", "saldo", "plazo"]
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(300)]
    ids = rng.permutation(np.arange(1000, 1300)).astype(np.int64)  # not in row order
    index = LexicalIndex(ids, texts)
    allowed = np.sort(rng.choice(ids, size=120, replace=False))
    full_scores, full_ids = index.search("tarjeta bloqueo saldo", 300)
    for k in (1, 5, 50, 299, 400):
        scores, found = index.search("tarjeta bloqueo saldo", k)
        assert found.tolist() == full_ids[:k].tolist()
        assert np.array_equal(scores, full_scores[:k])
        scores, found = index.search("tarjeta bloqueo saldo", k, allowed)
        inside = [(s, c) for s, c in zip(full_scores, full_ids, strict=True) if c in set(allowed)]
        assert found.tolist() == [c for _, c in inside[:k]]
    assert index.search("tarjeta", 5, np.array([7, 8], np.int64))[1].tolist() == []  # unknown ids
    assert index.search("tarjeta", 0)[1].tolist() == []
