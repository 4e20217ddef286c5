"""Sentences meant for the agent are told apart from those a customer can read, in es/en/pt."""

from __future__ import annotations

import pytest

from copilot.suggest.audience import (
    is_for_agent,
    is_internal_document,
    is_internal_heading,
    is_internal_section,
)

FOR_AGENT = [
    ("es", "Si el cliente viaja con frecuencia, conviene ofrecerle el cambio a Plan Libre Max."),
    ("es", "Recordar al cliente que actualice la tarjeta en suscripciones."),
    ("es", "Ofrecer primero el bloqueo temporal."),
    ("es", "Verificar identidad con tres preguntas de seguridad."),
    ("es", "Ofrezca al cliente el plan superior."),
    ("es", "El agente puede aplicar el bloqueo por la Línea Austral 24h."),
    ("es", "Si tiene dudas, derivar a Soporte de Pedidos."),
    ("pt", "Se o cliente não tem acesso digital, o atendente pode aplicar o bloqueio."),
    ("pt", "Oferecer a migração para o Plano Libre Max."),
    ("pt", "Verificar se o estabelecimento está classificado como carteira digital."),
    ("en", "Offer the temporary block first."),
    ("en", "Confirm the customer's address before reshipping."),
    ("en", "Agents can never see or read out a PIN."),
    ("en", "If SIM swap is suspected, tell them to call their operator."),
    ("en", "Remind customers that Tienda Cóndor never asks for passwords."),
    ("en", "Block all cards permanently (CRM > Cards > Permanent block) and order replacements."),
    ("es", "Si el cargo no corresponde, abrir un reclamo de facturación en el CRM."),
    ("pt", "O valor do subsídio está no contrato e no CRM (Contrato > Fidelidade)."),
]

FOR_CUSTOMER = [
    ("es", "La activación tarda hasta 24 horas, por eso recomendamos hacerlo un día antes."),
    ("es", "Puede comprar otra bolsa desde Mi Andina o enviando VIAJERO al 2020."),
    ("es", "Usted desactiva el bloqueo en la misma pantalla, sin costo."),
    ("es", "Un asesor lo llamará dentro de las 2 horas."),
    ("es", "El operador local cobra la llamada recibida."),
    ("pt", "Informe o período da viagem (até 60 dias, renovável)."),
    ("pt", "Você desfaz o bloqueio na mesma tela, sem custo."),
    ("en", "Open the app and tap Cards > Report lost card."),
    ("en", "Log in to the app and check your balance."),
    ("en", "The caller ID may even show the real Línea Austral number."),
    ("en", "We can offer a replacement within 2 business days."),
]


@pytest.mark.parametrize(("language", "sentence"), FOR_AGENT)
def test_agent_notes_and_third_person_are_for_the_agent(language: str, sentence: str) -> None:
    assert is_for_agent(sentence, language)
    assert is_for_agent(sentence, None)  # an untagged passage is checked by every language


@pytest.mark.parametrize(("language", "sentence"), FOR_CUSTOMER)
def test_sentences_addressed_to_the_customer_pass(language: str, sentence: str) -> None:
    assert not is_for_agent(sentence, language)


@pytest.mark.parametrize(
    "heading",
    [
        "Notas internas",
        "Nota para el agente",
        "Internal notes",
        "Nota para o atendente",
        "NOTAS INTERNAS:",
        "Notes for agents",
        "Uso interno",
    ],
)
def test_internal_notes_headings_are_recognised(heading: str) -> None:
    assert is_internal_heading(heading)


def test_a_section_under_internal_notes_is_internal_and_others_are_not() -> None:
    assert is_internal_section("Notas internas")
    assert is_internal_section("Internal notes > Retention offers")
    assert not is_internal_section("Cómo activar el roaming")
    assert not is_internal_section("")
    assert not is_internal_heading("Notas sobre la factura")


def test_an_internal_tag_marks_the_whole_document() -> None:
    assert is_internal_document(("roaming", "Internal"))
    assert not is_internal_document(("roaming", "viajes"))
