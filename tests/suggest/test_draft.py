"""Extractive drafts: KB sentences only, plain text, framed in the customer's language."""

from __future__ import annotations

from copilot.domain import SearchHit
from copilot.suggest.draft import clarifying_question, grounded_answer


def _hit(doc_id: str, text: str, language: str, score: float = 0.9, title: str = "T") -> SearchHit:
    return SearchHit(doc_id, title, "S", text, score, "src", 1, language)


PASSAGE = (
    "Ante pérdida o robo, la tarjeta debe bloquearse de inmediato. Canales disponibles: "
    "- App Austral: **Tarjetas > Reportar pérdida**. - Línea 24h: 0800 777 2870, opción 1. "
    "La tarjeta nueva llega en cinco días hábiles."
)


def test_answer_uses_only_passage_sentences_inside_the_frame() -> None:
    draft = grounded_answer("¿cuándo llega la tarjeta nueva?", [_hit("d", PASSAGE, "es")], "es")
    assert draft is not None
    assert draft.text.startswith("Claro, con gusto le ayudo. ")
    assert draft.text.endswith("¿Hay algo más en lo que pueda ayudarle?")
    body = draft.text.removeprefix("Claro, con gusto le ayudo. ").removesuffix(
        " ¿Hay algo más en lo que pueda ayudarle?"
    )
    assert "La tarjeta nueva llega en cinco días hábiles." in body
    for sentence in body.split(". "):
        assert sentence.rstrip(".") in PASSAGE.replace("**", "")
    assert "**" not in draft.text
    assert " - " not in draft.text


def test_frame_follows_the_customer_language() -> None:
    hits = [_hit("d", "Returns are free within 30 days of delivery.", "en")]
    assert grounded_answer("free returns?", hits, "en").text.startswith("Sure")  # type: ignore[union-attr]
    assert grounded_answer("devolução", hits, "pt").text.startswith("Claro, posso")  # type: ignore[union-attr]


def test_a_close_hit_in_the_customer_language_is_preferred() -> None:
    hits = [
        _hit("es-doc", "El reembolso se hace en siete días hábiles.", "es", 0.90),
        _hit("pt-doc", "O reembolso é feito em até sete dias úteis.", "pt", 0.88),
    ]
    draft = grounded_answer("quando recebo o reembolso?", hits, "pt")
    assert draft is not None
    assert draft.used[0].doc_id == "pt-doc"


def test_table_pipes_are_removed_and_no_hit_gives_no_draft() -> None:
    table = "| Plan | Precio |\n|---|---|\n| Conecta 15 | USD 15 al mes con 15 GB |"
    draft = grounded_answer("precio conecta 15", [_hit("t", table, "es")], "es")
    assert draft is not None
    assert "|" not in draft.text
    assert grounded_answer("hola", [], "es") is None


def test_clarifying_question_offers_titles_in_the_customer_language_first() -> None:
    hits = [
        _hit("a", "x", "pt", title="Bloqueio temporário"),
        _hit("b", "x", "es", title="Bloqueo temporal"),
        _hit("c", "x", "es", title="Robo de tarjeta"),
    ]
    question = clarifying_question(hits, "es")
    assert "«Bloqueo temporal»" in question
    assert "«Robo de tarjeta»" in question
    assert "Bloqueio" not in question
    assert clarifying_question([], "en").startswith("To help you better")
