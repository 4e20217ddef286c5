"""Subjects from titles: a follow-up's hits about one place are reordered by what the turn asks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from copilot.domain import DialogueTurn, DocumentInfo, Speaker
from copilot.kb import KnowledgeBase
from copilot.kb.retrieve import RetrievalMode
from copilot.kb.subjects import TitleSubjects, reorder_within
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.settings import Settings

PLACES = ("Acorn Guest House", "Bridge Lodge", "Cityroomz", "Warkworth Inn")
FACTS = {
    "parking": ("Is there free parking?", "Yes, {p} has free parking for guests."),
    "phone": ("What is the phone number?", "You can call {p} on 01223 555 0{n}."),
    "wifi": ("Is there internet access?", "Free wifi is available in every room at {p}."),
}


def _doc(doc_id: str, title: str) -> DocumentInfo:
    return DocumentInfo(doc_id, title, "src", "en", None, (), (), 1, 1, "h")


def _slug(place: str) -> str:
    return place.lower().replace(" ", "-")


def test_a_subject_is_the_rarest_shared_title_word_within_the_limit() -> None:
    docs = [
        _doc(f"{_slug(p)}:{f}", f"{p} (hotel) - FAQ: {q}")
        for p in PLACES
        for f, (q, _) in FACTS.items()
    ]
    subjects = TitleSubjects(docs, max_docs=5)
    acorn = {f"acorn-guest-house:{f}" for f in FACTS}
    assert subjects.group("acorn-guest-house:wifi") == acorn
    assert subjects.group("cityroomz:phone") == {f"cityroomz:{f}" for f in FACTS}
    assert TitleSubjects(docs, max_docs=2).group("acorn-guest-house:wifi") == frozenset()


def test_reordering_keeps_other_subjects_places_and_the_scores() -> None:
    ranked = [("a:1", 0.9), ("b:1", 0.8), ("a:2", 0.7), ("a:3", 0.6)]
    key = {"a:1": 0.1, "a:2": 0.9, "a:3": 0.5}
    out = reorder_within(ranked, frozenset(key), key.__getitem__)
    assert out == [("a:2", 0.9), ("b:1", 0.8), ("a:3", 0.7), ("a:1", 0.6)]


@pytest.fixture
def hotels_kb(
    settings: Settings, e5: Embedder, detector: LanguageDetector, tmp_path: Path
) -> Iterator[KnowledgeBase]:
    """Twelve FAQ passages, three per place, no metadata but id, title and text."""
    source = tmp_path / "hotels.jsonl"
    rows = [
        {
            "id": f"{_slug(p)}:{f}",
            "title": f"{p} (hotel) - FAQ: {q}",
            "text": f"Q: {q}\nA: " + a.format(p=p, n=n),
            "language": "en",
        }
        for n, p in enumerate(PLACES)
        for f, (q, a) in FACTS.items()
    ]
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    kb = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    kb.add([source])
    yield kb
    kb.close()


def test_a_follow_up_gets_the_fact_it_asks_about_the_place_named_turns_ago(
    hotels_kb: KnowledgeBase, e5: Embedder, detector: LanguageDetector
) -> None:
    dialogue = [
        DialogueTurn(Speaker.CUSTOMER, "Is there free parking at the Acorn Guest House?"),
        DialogueTurn(Speaker.AGENT, "Yes, Acorn Guest House has free parking."),
        DialogueTurn(Speaker.CUSTOMER, "And the phone number?"),
    ]
    hits = hotels_kb.search(dialogue, k=3, mode=RetrievalMode.DENSE)
    assert hits[0].doc_id == "acorn-guest-house:phone", [h.doc_id for h in hits]
    # Without the subject pass the dialogue's parking talk wins.
    plain = hotels_kb.settings.model_copy(update={"subject_turn_weight": 0.0})
    before = KnowledgeBase.open(plain, embedder=e5, reranker=None, language_detector=detector)
    try:
        assert before.search(dialogue, k=1, mode=RetrievalMode.DENSE)[0].doc_id == (
            "acorn-guest-house:parking"
        )
    finally:
        before.close()


def test_the_subject_named_last_is_found_and_ordinary_words_name_none() -> None:
    places = (*PLACES, "Great Lodge")
    docs = [
        _doc(f"{_slug(p)}:{f}", f"{p} (hotel) - FAQ: {q}")
        for p in places
        for f, (q, _) in FACTS.items()
    ]
    subjects = TitleSubjects(docs, max_docs=5)
    recent = ["And their phone?", "Cityroomz has wifi; Acorn Guest House too.", "Bridge Lodge?"]
    assert subjects.mentioned(recent) == {
        f"{_slug(p)}:{f}" for p in ("Cityroomz", "Acorn Guest House") for f in FACTS
    }
    # "great" is the Great Lodge titles' subject, but an everyday word: it names nothing.
    assert subjects.group("great-lodge:phone") == {f"great-lodge:{f}" for f in FACTS}
    assert subjects.mentioned(["Great, thanks. And their phone?"]) == frozenset()
    # A language wordfreq has no list for: nothing can be told a name, so nothing is named.
    unknown = [replace(d, language="xx") for d in docs]
    assert TitleSubjects(unknown, max_docs=5).mentioned(recent) == frozenset()
    regional = [replace(d, language="en-GB") for d in docs]
    assert TitleSubjects(regional, max_docs=5).mentioned(recent) == subjects.mentioned(recent)


def test_a_place_named_beyond_the_dense_context_still_answers_the_follow_up(
    hotels_kb: KnowledgeBase, e5: Embedder, detector: LanguageDetector
) -> None:
    said = [
        "I need a guesthouse in the north.",
        "Warkworth Inn is in the north and has free parking.",
        "Fine, I'd like to book it for two nights.",
        "Which day would you like to arrive?",
        "On Friday, for two people.",
        "Booked, your reference is XK12. Anything else?",
        "What is their phone number?",
    ]
    dialogue = [
        DialogueTurn(Speaker.CUSTOMER if i % 2 == 0 else Speaker.AGENT, text)
        for i, text in enumerate(said)
    ]
    assert hotels_kb.settings.context_turns < len(said) - 1 <= hotels_kb.settings.subject_turns
    hits = hotels_kb.search(dialogue, k=3, mode=RetrievalMode.DENSE)
    # "inn" is as rare among the titles as "warkworth", but an everyday word: the name is found
    # through "warkworth", which only the same titles carry.
    assert hits[0].doc_id == "warkworth-inn:phone", [h.doc_id for h in hits]
    plain = hotels_kb.settings.model_copy(update={"subject_mention_boost": 0.0})
    before = KnowledgeBase.open(plain, embedder=e5, reranker=None, language_detector=detector)
    try:  # the dialogue's last four turns do not name the place: another's phone wins
        assert before.search(dialogue, k=1, mode=RetrievalMode.DENSE)[0].doc_id != hits[0].doc_id
    finally:
        before.close()
