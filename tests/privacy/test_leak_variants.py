"""Formats that leaked past the redactor (issue 10): each is now masked, and only its own text."""

from __future__ import annotations

import pytest
from stdnum.br import cnpj

from copilot.privacy.redact import Redactor


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor()


# (message, the personal part, the label that replaces it)
LEAKS = {
    # cards grouped by no-break spaces, narrow no-break spaces, slashes or underscores
    "card-nbsp": (
        "mi tarjeta es 4111\u00a01111\u00a01111\u00a01111",
        "4111\u00a01111\u00a01111\u00a01111",
        "CARD",
    ),
    "card-narrow-nbsp": (
        "card 4111\u202f1111\u202f1111\u202f1111 thanks",
        "4111\u202f1111\u202f1111\u202f1111",
        "CARD",
    ),
    "card-slash": ("o cartão 5555/5555/5555/4444 foi recusado", "5555/5555/5555/4444", "CARD"),
    "card-underscore": ("tarjeta 4111_1111_1111_1111 por favor", "4111_1111_1111_1111", "CARD"),
    # phones with an extension, and 7-digit local numbers
    "phone-x-extension": ("call me at 619-612-4035x780 please", "619-612-4035x780", "PHONE"),
    "phone-ext-dot": ("call me at 212-555-0148 ext. 12", "212-555-0148 ext. 12", "PHONE"),
    "phone-local-dashed": ("my number is 555-1234", "555-1234", "PHONE"),
    "phone-local-bare": ("mi teléfono fijo es 4035780, llamen de tarde", "4035780", "PHONE"),
    "phone-local-bare-pt": ("meu telefone: 4035780", "4035780", "PHONE"),
    # a 9-digit SSN without dashes after "SSN"
    "ssn-bare": ("my SSN is 123456789", "123456789", "SSN"),
    "ssn-spaced": ("SSN: 123 45 6789", "123 45 6789", "SSN"),
    # an Argentine DNI with dots and no context word
    "dni-ar-dotted": ("es 12.345.678, a nombre de mi mamá", "12.345.678", "DNI"),
    # obfuscated e-mails
    "email-bracket-at": ("mi correo es maria [at] example.com", "maria [at] example.com", "EMAIL"),
    "email-spaced-at": ("write to maria @ example.com", "maria @ example.com", "EMAIL"),
    "email-paren-at-dot": (
        "email maria(at)example(dot)com ok",
        "maria(at)example(dot)com",
        "EMAIL",
    ),
    "email-spoken": ("es maria arroba gmail punto com", "maria arroba gmail punto com", "EMAIL"),
    # passports after passport / pasaporte / passaporte
    "passport-es": ("mi pasaporte es el A38836859", "A38836859", "PASSPORT"),
    "passport-en": ("passport number: J4978690", "J4978690", "PASSPORT"),
    "passport-pt": ("passaporte nº FN123456", "FN123456", "PASSPORT"),
    # the alphanumeric CNPJ (from July 2026)
    "cnpj-alphanumeric": ("o CNPJ é 12.ABC.345/01DE-35", "12.ABC.345/01DE-35", "CNPJ"),
    "cnpj-alphanumeric-compact": ("faturar para 12ABC34501DE35", "12ABC34501DE35", "CNPJ"),
    # Spanish DNI and NIE
    "dni-es": ("mi documento: 12345678Z", "12345678Z", "DNI"),
    "nie-es": ("NIE X1234567L", "X1234567L", "DNI"),
}


@pytest.mark.parametrize(("text", "secret", "label"), LEAKS.values(), ids=LEAKS.keys())
def test_leaked_format_is_masked(redactor: Redactor, text: str, secret: str, label: str) -> None:
    result = redactor.redact(text)
    assert result.text == text.replace(secret, f"[{label}]")
    assert dict(result.counts) == {label: 1}


@pytest.mark.parametrize("text", [text for text, _, _ in LEAKS.values()], ids=LEAKS.keys())
def test_masking_a_leaked_format_twice_changes_nothing(redactor: Redactor, text: str) -> None:
    once = redactor.redact(text).text
    assert not redactor.redact(once).changed


def test_installed_stdnum_validates_the_alphanumeric_cnpj() -> None:
    """python-stdnum 2.2 computes the check digits on ASCII value minus 48; older ones did not."""
    assert cnpj.is_valid("12.ABC.345/01DE-35")
    assert not cnpj.is_valid("12.ABC.345/01DE-36")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # without their check digit's confirmation, these need the word that names them
        ("mi CURP es GODE561231HDFRRN08", "mi CURP es [CURP]"),
        ("código GODE561231HDFRRN08", "código GODE561231HDFRRN08"),
        ("DNI 12345678A", "DNI [DNI]"),
        ("referencia 12345678A", "referencia 12345678A"),
        # a valid CURP needs no context word
        ("es PAMN350409HTLLKS09 ok", "es [CURP] ok"),
        # an RFC needs a real date
        ("facturar a GODE561231GR8", "facturar a [RFC]"),
        ("modelo GODE561331GR8", "modelo GODE561331GR8"),
    ],
)
def test_curp_rfc_and_spanish_ids_count_when_valid_or_named(
    redactor: Redactor, text: str, expected: str
) -> None:
    assert redactor.redact(text).text == expected


def test_a_masked_extension_does_not_count_towards_the_phone_length(redactor: Redactor) -> None:
    # 7 digits plus a 3-digit extension is no 10-digit phone; it is a local number with one
    assert redactor.redact("ligue 555-1234 ramal 321").text == "ligue [PHONE]"
    assert redactor.redact("sala 12 ramal 321").text == "sala 12 ramal 321"
