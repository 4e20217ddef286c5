"""Redaction masks cards, e-mails, phones and national ids in es/en/pt chat, and keeps the rest."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from copilot.logconfig import JsonFormatter
from copilot.privacy.redact import Redaction, Redactor, default_redactor, redact_text


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


# (message, the personal part, the label that replaces it)
FINDINGS = [
    # cards: grouped by spaces or dashes, or bare; Luhn holds for all of them
    ("Mi tarjeta es 4111 1111 1111 1111, vence en 2027", "4111 1111 1111 1111", "CARD"),
    ("Pagué con la 4111-1111-1111-1111 y no pasó", "4111-1111-1111-1111", "CARD"),
    ("my card number is 4111111111111111 thanks", "4111111111111111", "CARD"),
    ("o cartão 5555 5555 5555 4444 foi recusado", "5555 5555 5555 4444", "CARD"),
    ("Amex 3782 822463 10005 please", "3782 822463 10005", "CARD"),
    # cards as speech recognition writes spoken digits: any grouping, dots and commas too
    ("Card number 4-532-0151-128-3-0366", "4-532-0151-128-3-0366", "CARD"),
    ("mi tarjeta es 4111111 1111111 11 gracias", "4111111 1111111 11", "CARD"),
    (
        "o cartão 4 5 3 2 0 1 5 1 1 2 8 3 0 3 6 6 foi bloqueado",
        "4 5 3 2 0 1 5 1 1 2 8 3 0 3 6 6",
        "CARD",
    ),
    ("card 4,532,0151,1283,0366.", "4,532,0151,1283,0366", "CARD"),
    ("tarjeta 4111.1111.1111.1111 por favor", "4111.1111.1111.1111", "CARD"),
    # e-mails
    ("mi correo es maria.gomez@gmail.com gracias", "maria.gomez@gmail.com", "EMAIL"),
    ("EMAIL: JUAN.PEREZ@HOTMAIL.COM", "JUAN.PEREZ@HOTMAIL.COM", "EMAIL"),
    ("meu email é ana+compras@mail.empresa.com.br.", "ana+compras@mail.empresa.com.br", "EMAIL"),
    # phones, international and national
    ("Meu celular é +55 11 91234-5678, pode ligar", "+55 11 91234-5678", "PHONE"),
    ("Llámame al +52 55 1234 5678 por favor", "+52 55 1234 5678", "PHONE"),
    ("Call me at +1 (212) 555-0148 after 5", "+1 (212) 555-0148", "PHONE"),
    ("mi cel es +57 300 123 4567", "+57 300 123 4567", "PHONE"),
    ("me liga no (11) 91234-5678 amanhã", "(11) 91234-5678", "PHONE"),
    ("mi número es 011 15-1234-5678", "011 15-1234-5678", "PHONE"),
    ("escríbeme al 300 123 4567 por WhatsApp", "300 123 4567", "PHONE"),
    ("mi teléfono: 55-1234-5678", "55-1234-5678", "PHONE"),
    ("mi celular 3001234567", "3001234567", "PHONE"),
    ("mi celular es 987654321, llámame", "987654321", "PHONE"),
    # phones spoken digit by digit or in odd groups
    ("mi cel es 3 0 0 1 2 3 4 5 6 7", "3 0 0 1 2 3 4 5 6 7", "PHONE"),
    ("meu celular é 11 9 1234 5678", "11 9 1234 5678", "PHONE"),
    ("my number is 212 5550148", "212 5550148", "PHONE"),
    # Brazil
    ("meu CPF é 123.456.789-09", "123.456.789-09", "CPF"),
    ("CPF do titular 12345678909", "12345678909", "CPF"),
    ("o CNPJ da loja é 12.345.678/0001-95", "12.345.678/0001-95", "CNPJ"),
    ("CNPJ 12345678000195, razão social ACME", "12345678000195", "CNPJ"),
    ("meu RG é 12.345.678-9", "12.345.678-9", "DNI"),
    # Mexico
    ("Mi CURP es GODE561231HDFRRN09", "GODE561231HDFRRN09", "CURP"),
    ("mi curp: gode561231hdfrrn09", "gode561231hdfrrn09", "CURP"),
    ("facturar al RFC GODE561231GR8 por favor", "GODE561231GR8", "RFC"),
    ("RFC de la empresa: ABC010101AB1", "ABC010101AB1", "RFC"),
    # Colombia, Argentina, Peru, Chile: digits after a context word
    ("mi cédula es 1.023.456.789", "1.023.456.789", "CEDULA"),
    ("Cedula 52123456 a nombre de mi mamá", "52123456", "CEDULA"),
    ("C.C. 1023456789", "1023456789", "CEDULA"),
    ("el número de documento es el 1023456789", "1023456789", "DNI"),
    ("DNI 30.123.456, titular de la línea", "30.123.456", "DNI"),
    ("mi dni: 45678912", "45678912", "DNI"),
    ("Mi RUT 12.345.678-5", "12.345.678-5", "DNI"),
    ("el rut es 12345678-5", "12345678-5", "DNI"),
    ("my ID number is 123456789", "123456789", "DNI"),
    # United States
    ("my SSN is 123-45-6789", "123-45-6789", "SSN"),
    # IBAN
    ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "DE89 3704 0044 0532 0130 00", "IBAN"),
    ("transfer to GB82WEST12345698765432", "GB82WEST12345698765432", "IBAN"),
]

KEPT = [
    "Mi pedido 4111 1111 1111 1112 no llegó",  # 16 digits, Luhn fails
    "order 1234567812345678 is late",
    "el plan cuesta USD 25 al mes",
    "a mensalidade é R$ 14,90",
    "el equipo vale $1.299.990 en cuotas",
    "te llega el 25/11/2026 entre 14:30 y 18:00",
    "renewal date 2026-11-25",
    "tenés 15% de descuento",
    "Plan Conecta 15 con 5 GB por 30 días",
    "mi pedido #100234567 sigue en camino",
    "tengo 3 pedidos y 2 líneas",
    "el pedido 12345678 no llegó",  # a bare 8-digit number without a context word
    "protocolo 2024112512345 de atendimento",
    "llamé al *611 desde otra línea",
    "cobraron 12.299.990 pesos",
    "CNPJ errado 12345678000100",  # 14 digits whose check digits fail
    "tengo 45 años y 2 hijos",
    "Mi pedido 4111-1111-1111-111-2 no llegó",  # any grouping: still Luhn-checked
    "the code is 1 2 3 4",  # too short for a phone
]


@pytest.mark.parametrize(("text", "secret", "label"), FINDINGS)
def test_each_kind_is_replaced_by_its_label(
    redactor: Redactor, text: str, secret: str, label: str
) -> None:
    result = redactor.redact(text)
    assert secret not in result.text
    assert f"[{label}]" in result.text
    assert result.text == text.replace(secret, f"[{label}]")
    assert dict(result.counts) == {label: 1}
    assert result.changed


@pytest.mark.parametrize("text", KEPT)
def test_numbers_that_are_not_personal_data_are_kept(redactor: Redactor, text: str) -> None:
    result = redactor.redact(text)
    assert result.text == text
    assert dict(result.counts) == {}
    assert not result.changed


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("0800 777 2870 es la línea gratuita", "0800 777 2870"),
        ("marque 900 611 611", "900 611 611"),
    ],
)
def test_business_service_numbers_may_be_masked_as_phones(
    redactor: Redactor, text: str, secret: str
) -> None:
    assert redactor.redact(text).text == text.replace(secret, "[PHONE]")


def test_bare_cpf_needs_valid_check_digits(redactor: Redactor) -> None:
    assert "CPF" not in redactor.redact("número 12345678900").counts


def test_formatted_cpf_is_masked_even_with_a_typo_in_its_check_digits(redactor: Redactor) -> None:
    assert redactor.redact("CPF 123.456.789-00").text == "CPF [CPF]"


def test_context_word_turns_a_bare_number_into_an_id(redactor: Redactor) -> None:
    assert redactor.redact("mi DNI es 30123456").text == "mi DNI es [DNI]"
    assert redactor.redact("mi pedido es 30123456").text == "mi pedido es 30123456"


def test_several_findings_in_one_message_are_all_counted(redactor: Redactor) -> None:
    text = (
        "Hola, soy cliente. Mi correo es laura.r@outlook.com y el de mi esposo LUIS@GMAIL.COM, "
        "mi celular +57 300 123 4567, cédula 1.023.456.789, y pagué USD 25 con la "
        "4111 1111 1111 1111 el 25/11/2026. Pedido #100234567."
    )
    result = redactor.redact(text)
    assert result.text == (
        "Hola, soy cliente. Mi correo es [EMAIL] y el de mi esposo [EMAIL], "
        "mi celular [PHONE], cédula [CEDULA], y pagué USD 25 con la "
        "[CARD] el 25/11/2026. Pedido #100234567."
    )
    assert dict(result.counts) == {"EMAIL": 2, "PHONE": 1, "CEDULA": 1, "CARD": 1}


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        # the expiry date beside the card is not swallowed
        ("tarjeta 4111 1111 1111 1111 12 27 ok", "tarjeta [CARD] 12 27 ok", {"CARD": 1}),
        ("4111 1111 1111 1111 1227", "[CARD] 1227", {"CARD": 1}),
        # a phone and a card in one run of digits: each by its own rule
        (
            "call 3001234567 4111111111111111 now",
            "call [PHONE] [CARD] now",
            {"PHONE": 1, "CARD": 1},
        ),
        # Whisper on an espeak-ng card number: digits repeated and regrouped (28 digits)
        (
            "My card number is 4111111 1111111 1111 111 1111111 and it expires",
            "My card number is [CARD] [PHONE] and it expires",
            {"CARD": 1, "PHONE": 1},
        ),
    ],
)
def test_a_card_in_a_longer_run_of_digits_is_found_without_its_neighbours(
    redactor: Redactor, text: str, expected: str, counts: dict[str, int]
) -> None:
    result = redactor.redact(text)
    assert result.text == expected
    assert dict(result.counts) == counts


def test_cpf_and_card_take_precedence_over_phone(redactor: Redactor) -> None:
    result = redactor.redact("CPF 12345678909 cartão 4111111111111111 fone 11912345678")
    assert result.text == "CPF [CPF] cartão [CARD] fone [PHONE]"


@pytest.mark.parametrize(
    "text",
    [*(text for text, _, _ in FINDINGS), *KEPT, "a@b.co12@c.co", "x@y.com+55 11 91234-5678"],
)
def test_redaction_is_idempotent(redactor: Redactor, text: str) -> None:
    once = redactor.redact(text).text
    twice = redactor.redact(once)
    assert twice.text == once
    assert not twice.changed


def test_redact_text_uses_the_given_or_the_default_redactor(redactor: Redactor) -> None:
    text = "escribe a soporte.cliente@gmail.com"
    assert redact_text(text) == "escribe a [EMAIL]"
    assert redact_text(text, redactor) == "escribe a [EMAIL]"
    assert default_redactor() is default_redactor()


def test_empty_text_is_unchanged(redactor: Redactor) -> None:
    assert redactor.redact("") == Redaction(text="", counts={})


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("card 4111 1111 1111 1111 rejected for ana@mail.com")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("copilot.test", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_json_formatter_scrubs_the_event_line() -> None:
    record = _record("payment_failed email=%s card=%s", "ana@mail.com", "4111-1111-1111-1111")
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["event"] == "payment_failed"
    assert payload["email"] == "[EMAIL]"
    assert payload["card"] == "[CARD]"
    assert "ana@mail.com" not in line
    assert "4111" not in line


def test_json_formatter_scrubs_extra_fields() -> None:
    record = _record("payment_failed")
    record.note = "escribe a ana@mail.com"
    record.card = "4111-1111-1111-1111"
    line = JsonFormatter().format(record)
    payload = json.loads(line)
    assert payload["note"] == "escribe a [EMAIL]"
    assert payload["card"] == "[CARD]"
    assert "ana@mail.com" not in line
    assert "4111" not in line


def test_json_formatter_scrubs_exception_text() -> None:
    line = JsonFormatter().format(_record("payment_failed", exc=True))
    payload = json.loads(line)
    assert "ValueError: card [CARD] rejected for [EMAIL]" in payload["exc"]
    assert "ana@mail.com" not in line
    assert "4111 1111" not in line


def test_numbers_the_kb_publishes_are_kept_and_a_customers_own_are_not() -> None:
    kb_texts = [
        "Línea Austral 24h: 0800 777 2870, opción 1 (desde el exterior, +1 305 555 0148).",
        "Escriba a seguridad@bancoaustral.com si recibe un mensaje sospechoso.",
    ]
    published = Redactor().published_in(kb_texts)
    assert published == {"0800 777 2870", "+1 305 555 0148", "seguridad@bancoaustral.com"}
    redactor = Redactor(published)
    reply = "Llame a la Línea Austral 24h (0800 777 2870) o escriba a seguridad@bancoaustral.com."
    assert redactor.redact(reply).text == reply
    assert not redactor.redact(reply).changed
    mixed = redactor.redact("Llamé al 0800 777 2870, mi celular es 300 123 4567, maria@gmail.com")
    assert mixed.text == "Llamé al 0800 777 2870, mi celular es [PHONE], [EMAIL]"
    assert dict(mixed.counts) == {"PHONE": 1, "EMAIL": 1}
    # Only the verbatim published string is kept: the default redactor stays strict.
    assert default_redactor().redact(reply).text == (
        "Llame a la Línea Austral 24h ([PHONE]) o escriba a [EMAIL]."
    )


def test_publish_swaps_the_allowlist_for_the_next_redactions() -> None:
    redactor = Redactor(["0800 777 2870"])
    text = "Llame al 0800 777 2870 o al 0800 444 1234."
    assert redactor.redact(text).text == "Llame al 0800 777 2870 o al [PHONE]."

    redactor.publish(["0800 444 1234"])

    assert redactor.redact(text).text == "Llame al [PHONE] o al 0800 444 1234."
