"""Extractive drafts: customer-ready KB sentences only, plain text, in the customer's language."""

from __future__ import annotations

import pytest

from copilot.domain import SearchHit
from copilot.models.translate import Translator, default_translator
from copilot.suggest.draft import QUESTION_CHARS, clarifying_question, grounded_answer


def _hit(
    doc_id: str,
    text: str,
    language: str | None,
    score: float = 0.9,
    title: str = "T",
    section: str = "S",
    tags: tuple[str, ...] = (),
) -> SearchHit:
    return SearchHit(doc_id, title, section, text, score, "src", 1, language, None, tags)


@pytest.fixture(scope="module")
def translator() -> Translator:
    return default_translator()


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
        assert sentence.rstrip(".") in PASSAGE.replace("**", "").replace(": - ", ": ")
    assert "**" not in draft.text
    assert " - " not in draft.text


def test_frame_follows_the_customer_language() -> None:
    hits = [_hit("d", "Returns are free within 30 days of delivery.", "en")]
    assert grounded_answer("free returns?", hits, "en").text.startswith("Sure")  # type: ignore[union-attr]
    hits = [_hit("d", "A devolução é gratuita em até 30 dias.", "pt")]
    assert grounded_answer("devolução", hits, "pt").text.startswith("Claro, posso")  # type: ignore[union-attr]


def test_a_passage_in_another_language_gives_no_draft_without_a_model_for_the_pair() -> None:
    spanish = [_hit("es-doc", "El reembolso se hace en siete días hábiles.", "es")]
    assert grounded_answer("quando recebo o reembolso?", spanish, "pt") is None
    english = [_hit("en-doc", "Refunds take seven business days.", "en")]
    assert grounded_answer("¿cuándo llega el reembolso?", english, "es") is None
    assert grounded_answer("quando recebo?", english, "pt", translate=False) is None
    assert grounded_answer("quando?", [_hit("x", "Refunds take seven days.", None)], "pt") is None


def test_an_english_passage_is_machine_translated_for_a_portuguese_customer(
    translator: Translator,
) -> None:
    hits = [
        _hit("en-doc", "Refunds are issued within seven business days. Keep the receipt.", "en")
    ]
    draft = grounded_answer("quando recebo o reembolso?", hits, "pt", translator=translator)
    assert draft is not None
    assert draft.translated
    assert draft.source_language == "en"
    assert draft.text.startswith("Claro, posso ajudar com isso. ")
    assert draft.text.endswith(" Posso ajudar em algo mais?")
    assert "sete" in draft.text.lower() or "7" in draft.text
    assert "business" not in draft.text
    assert "Refunds" not in draft.text


class RecordingTranslator(Translator):
    """The real translator, noting every text it is asked to translate."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def translate(self, text: str, source: str, target: str) -> str | None:
        self.texts.append(text)
        return super().translate(text, source, target)


def test_a_long_question_is_translated_only_by_its_head_and_tail() -> None:
    filler = "Fiquei o dia todo em casa com a minha família e depois fomos ao parque. " * 40
    question = f"quando recebo o reembolso? {filler} obrigado"
    hits = [
        _hit("en-doc", "Refunds are issued within seven business days. Keep the receipt.", "en")
    ]
    translator = RecordingTranslator()
    draft = grounded_answer(question, hits, "pt", translator=translator)
    assert draft is not None
    assert draft.translated
    assert "sete" in draft.text.lower() or "7" in draft.text
    assert translator.texts[0].startswith("quando recebo o reembolso?")
    assert translator.texts[0].endswith("obrigado")
    assert all(len(t) <= QUESTION_CHARS + 1 for t in translator.texts)


def test_a_portuguese_passage_is_machine_translated_for_an_english_customer(
    translator: Translator,
) -> None:
    hits = [_hit("pt-doc", "A troca é gratuita em até 30 dias após a entrega.", "pt")]
    draft = grounded_answer("is the exchange free?", hits, "en", translator=translator)
    assert draft is not None
    assert draft.text.startswith("Sure, I can help with that. ")
    assert "30 days" in draft.text
    assert "gratuita" not in draft.text


def test_agent_notes_never_enter_a_draft() -> None:
    passage = (
        "Con Conecta 15 los datos se cortan al agotarse la bolsa. Puede comprar otra bolsa desde "
        "Mi Andina. Si el cliente viaja con frecuencia, conviene ofrecerle el cambio a Plan Libre "
        "Max. Recordar al cliente que active el roaming."
    )
    draft = grounded_answer(
        "roaming conecta 15 bolsa cliente viaja", [_hit("d", passage, "es")], "es"
    )
    assert draft is not None
    assert "cliente" not in draft.text
    assert "Puede comprar otra bolsa desde Mi Andina." in draft.text


def test_passages_from_internal_notes_or_internal_documents_are_skipped() -> None:
    note = _hit(
        "a", "Las bolsas se pueden comprar por Wi-Fi.", "es", 0.95, section="Notas internas"
    )
    tagged = _hit("b", "Las bolsas cuestan USD 15.", "es", 0.94, tags=("internal",))
    public = _hit("c", "La bolsa se cobra en la siguiente factura.", "es", 0.93)
    draft = grounded_answer("bolsa", [note, tagged, public], "es")
    assert draft is not None
    assert draft.used[0].doc_id == "c"
    assert grounded_answer("bolsa", [note, tagged], "es") is None


def test_a_usable_hit_far_below_the_best_does_not_stand_in_for_it() -> None:
    note = _hit("a", "Ofrecer el cambio de plan.", "es", 0.95)
    other = _hit("b", "El plan cuesta USD 15 al mes.", "es", 0.80)
    assert grounded_answer("plan", [note, other], "es") is None


def test_drafts_hold_no_markdown_and_keep_abbreviations_whole() -> None:
    passage = "Revise sus equipos en la app (*Mis equipos*). El envío tarda aprox. 5 días."
    draft = grounded_answer("equipos envío días app", [_hit("d", passage, "es")], "es")
    assert draft is not None
    assert "(Mis equipos)" in draft.text
    assert "aprox. 5 días." in draft.text
    assert "*" not in draft.text


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
