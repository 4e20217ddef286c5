"""Sentence splitting knows es/pt/en abbreviations, drops nothing and leaves no markdown."""

from __future__ import annotations

import pytest

from copilot.suggest.sentences import plain_sentences, strip_markdown


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("es", "El envío tarda aprox. 5 días. Llega antes.", ["El envío tarda aprox. 5 días."]),
        ("es", "Lo atiende el Sr. Pérez. Gracias.", ["Lo atiende el Sr. Pérez."]),
        (
            "es",
            "Vaya a la Av. Corrientes núm. 5. Está abierto.",
            ["Vaya a la Av. Corrientes núm. 5."],
        ),
        (
            "es",
            "Hay cargos extra, p. ej. el envío. Nada más.",
            ["Hay cargos extra, p. ej. el envío."],
        ),
        ("es", "Llame al tel. 0800 777 2870. Atendemos 24 h.", ["Llame al tel. 0800 777 2870."]),
        ("es", "Espere 5 min. antes de reintentar. Listo.", ["Espere 5 min. antes de reintentar."]),
        (
            "pt",
            "A loja fica na Av. Paulista, 1000. Abre às 9h.",
            ["A loja fica na Av. Paulista, 1000."],
        ),
        (
            "pt",
            "A Sra. Silva atende no balcão Nº 5. Obrigado.",
            ["A Sra. Silva atende no balcão Nº 5."],
        ),
        (
            "pt",
            "Emitida por Condor Ltda. e Condor S.A. hoje. Ok.",
            ["Emitida por Condor Ltda. e Condor S.A. hoje."],
        ),
        (
            "en",
            "Call Dr. Smith, e.g. at desk No. 5. Thanks.",
            ["Call Dr. Smith, e.g. at desk No. 5."],
        ),
        ("en", "It costs 1.5 USD, i.e. less. Done.", ["It costs 1.5 USD, i.e. less."]),
        ("es", "Vea www.tiendacondor.com/ayuda. Gracias.", ["Vea www.tiendacondor.com/ayuda."]),
    ],
)
def test_abbreviations_numbers_and_urls_do_not_end_a_sentence(
    language: str, text: str, expected: list[str]
) -> None:
    sentences = plain_sentences(text, language)
    assert sentences[: len(expected)] == expected
    assert len(sentences) == len(expected) + 1


def test_short_real_sentences_are_kept_and_nothing_is_dropped() -> None:
    text = "Claro. Es gratis. Sí. La tarjeta llega en cinco días hábiles."
    sentences = plain_sentences(text, "es")
    assert sentences == ["Claro.", "Es gratis.", "Sí.", "La tarjeta llega en cinco días hábiles."]
    assert " ".join(sentences).split() == text.split()


def test_list_items_on_one_line_become_sentences_and_an_introduction_joins_its_first_item() -> None:
    text = (
        "Ante pérdida o robo, la tarjeta debe bloquearse. Canales disponibles: "
        "- App Austral: **Tarjetas > Reportar pérdida**. - Línea 24h: 0800 777 2870, opción 1. "
        "3. La tarjeta nueva llega en cinco días hábiles."
    )
    assert plain_sentences(text, "es") == [
        "Ante pérdida o robo, la tarjeta debe bloquearse.",
        "Canales disponibles: App Austral: Tarjetas > Reportar pérdida.",
        "Línea 24h: 0800 777 2870, opción 1.",
        "La tarjeta nueva llega en cinco días hábiles.",
    ]


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        (
            "Revise sus equipos en la app (*Mis equipos*).",
            "Revise sus equipos en la app (Mis equipos).",
        ),
        ("Toque **Tarjetas > Congelar** y __confirme__.", "Toque Tarjetas > Congelar y confirme."),
        ("Envíe `VIAJERO` al 2020, _sin costo_.", "Envíe VIAJERO al 2020, sin costo."),
        ("Lea [la guía de roaming](https://x.example/roaming).", "Lea la guía de roaming."),
        (
            "Marque *333*número*monto# o llame al *611.",
            "Marque *333*número*monto# o llame al *611.",
        ),
        (
            "Escriba a soporte_clientes@condor.example.",
            "Escriba a soporte_clientes@condor.example.",
        ),
    ],
)
def test_markdown_is_stripped_but_phone_codes_and_addresses_stay(markdown: str, plain: str) -> None:
    assert strip_markdown(markdown) == plain


def test_headings_and_tables_become_plain_lines() -> None:
    text = (
        "## Bolsas\n| Bolsa | Precio |\n|---|---|\n| Viajero Américas | USD 15 |\n"
        "| Viajero Mundo | USD 25 | La bolsa se cobra en la factura."
    )
    assert plain_sentences(text, "es") == [
        "Bolsas",
        "Viajero Américas: USD 15.",
        "Viajero Mundo: USD 25.",
        "La bolsa se cobra en la factura.",
    ]
