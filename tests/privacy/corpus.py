"""A seeded PII corpus: Faker values of every kind the redactor masks, in es/pt/en chat sentences.

Faker's locale providers give the values (cards, e-mails, phones, passports, IBANs, CPF, CNPJ, RG,
CURP, RFC, NSS, NUIP, NIT, DNI, CUIT/CUIL, RUT, SSN); what Faker lacks is built with python-stdnum
(the alphanumeric CNPJ) or by reformatting a Faker value the way customers write it (dotted DNI
and cédula, cards grouped with any separator, e-mails spelled out). Spanish DNI/NIE come from the
es_ES provider, the only one that has them.
"""

from __future__ import annotations

import os
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker
from stdnum.br import cnpj

SEED_ENV = "COPILOT_PII_SEED"
DEFAULT_SEED = 20260710
LOCALES = ("es_MX", "es_CO", "es_AR", "es_CL", "pt_BR", "en_US")


@dataclass(frozen=True, slots=True)
class Sample:
    """One sentence with one personal value in it."""

    kind: str
    locale: str
    value: str
    text: str


def corpus_seed() -> int:
    """The corpus seed: ``COPILOT_PII_SEED`` when set, else a fixed default."""
    return int(os.environ.get(SEED_ENV, DEFAULT_SEED))


def digits(text: str) -> str:
    """The ASCII digits of ``text``."""
    return "".join(c for c in text if c in string.digits)


def squeeze(text: str) -> str:
    """``text`` with separators between digits removed, so a value split by spaces still shows."""
    return re.sub(r"(?<=\d)[\s./_,\-]{1,3}(?=\d)", "", text)


def leaks(sample: Sample, redacted: str) -> bool:
    """Whether ``redacted`` still shows the sample's value (verbatim, or its 7+ digits)."""
    if sample.value in redacted:
        return True
    number = digits(sample.value)
    return len(number) >= 7 and number in squeeze(redacted)


_Value = Callable[[Faker, random.Random], str]
_LANGUAGE = {"pt_BR": "pt", "en_US": "en"}
_CARD_SEPARATORS = ("", " ", " ", "-", ".", "\u00a0", "\u202f", "/", "_")


def _card(fake: Faker, rng: random.Random) -> str:
    number = fake.credit_card_number()
    sizes = [4, 6, 5] if len(number) == 15 else [4] * 5
    groups, at = [], 0
    for size in sizes:
        if at < len(number):
            groups.append(number[at : at + size])
            at += size
    return rng.choice(_CARD_SEPARATORS).join(groups)


def _email(fake: Faker, rng: random.Random) -> str:
    address: str = fake.email()
    local, domain = address.split("@")
    spoken_dot = {"pt_BR": " ponto ", "en_US": " dot "}.get(fake.locales[0], " punto ")
    style = rng.randrange(6)
    if style == 1:
        return f"{local} [at] {domain}"
    if style == 2:
        return f"{local} @ {domain}"
    if style == 3:
        return f"{local}(at){domain.replace('.', '(dot)')}"
    if style == 4:
        return f"{local} arroba {domain.replace('.', spoken_dot)}"
    return address


def _spaced_iban(fake: Faker, rng: random.Random) -> str:
    iban: str = fake.iban()
    return " ".join(re.findall(".{1,4}", iban)) if rng.random() < 0.5 else iban


def _dotted(number: str) -> str:
    return f"{int(number):,}".replace(",", ".")


def _cpf(fake: Faker, rng: random.Random) -> str:
    return str(fake.cpf() if rng.random() < 0.6 else fake.ssn())


def _cnpj(fake: Faker, rng: random.Random) -> str:
    if rng.random() < 0.5:
        value: str = fake.cnpj()
        return value if rng.random() < 0.6 else digits(value)
    base = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(12))
    base = (
        base[:3]
        + rng.choice(string.ascii_uppercase)
        + base[4:7]
        + rng.choice("0123456789")
        + base[8:]
    )
    number = base + cnpj.calc_check_digits(base)
    return cnpj.format(number) if rng.random() < 0.6 else number


def _rfc(fake: Faker, rng: random.Random) -> str:
    return str(fake.rfc(natural=rng.random() < 0.7))


def _nuip(fake: Faker, rng: random.Random) -> str:
    value: str = fake.nuip()
    return _dotted(value) if rng.random() < 0.4 else value


def _nit(fake: Faker, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return str(fake.natural_person_nit_with_check_digit())
    return str(fake.legal_person_nit_with_check_digit())


def _dni_ar(fake: Faker, rng: random.Random) -> str:
    value: str = fake.dni()
    return _dotted(value) if rng.random() < 0.5 else value


def _dni_ar_dotted(fake: Faker, rng: random.Random) -> str:
    return _dotted(fake.dni())


def _cuit(fake: Faker, rng: random.Random) -> str:
    return str(rng.choice((fake.cuit, fake.cuil, fake.ssn))())


def _rut(fake: Faker, rng: random.Random) -> str:
    value: str = fake.rut()
    return value.replace(".", "") if rng.random() < 0.3 else value


def _ssn(fake: Faker, rng: random.Random) -> str:
    value: str = fake.ssn()
    return rng.choice((value, value.replace("-", ""), value.replace("-", " ")))


def _dni_es(fake: Faker, rng: random.Random) -> str:
    return str(fake.nif() if rng.random() < 0.5 else fake.nie())


def _plain(method: str) -> _Value:
    return lambda fake, _rng: str(getattr(fake, method)())


_ALL = LOCALES
# kind: (locales, value, {language: templates})
_KINDS: dict[str, tuple[tuple[str, ...], _Value, dict[str, tuple[str, ...]]]] = {
    "card": (
        _ALL,
        _card,
        {
            "es": (
                "mi tarjeta es {}",
                "te paso el número de la tarjeta: {} vence 08/27",
                "pagué con la {} y no pasó",
                "la tarjeta de crédito {} me la bloquearon",
            ),
            "pt": ("meu cartão é {}", "o número do cartão é {} validade 08/27", "paguei com {}"),
            "en": ("my card number is {}", "I paid with {} yesterday", "card: {} exp 08/27"),
        },
    ),
    "email": (
        _ALL,
        _email,
        {
            "es": ("mi correo es {}", "escríbanme a {} por favor", "el email registrado es {}"),
            "pt": ("meu e-mail é {}", "manda para {} por favor", "o email cadastrado é {}"),
            "en": ("my email is {}", "send it to {}, thanks", "the account email is {}"),
        },
    ),
    "phone": (
        _ALL,
        _plain("phone_number"),
        {
            "es": (
                "mi celular es {}",
                "llámame al {} por favor",
                "mi número de teléfono es {}",
                "pueden contactarme al {} después de las 18:00",
                "mi teléfono: {}",
            ),
            "pt": ("meu celular é {}", "me liga no {} amanhã", "meu telefone é {}"),
            "en": ("call me at {}", "my phone number is {}", "my cell is {}, thanks"),
        },
    ),
    "passport": (
        _ALL,
        _plain("passport_number"),
        {
            "es": ("mi pasaporte es {}", "número de pasaporte {}", "el pasaporte {} está vencido"),
            "pt": ("meu passaporte é {}", "passaporte nº {}", "o passaporte {} venceu"),
            "en": ("my passport number is {}", "passport {} expires in 2027"),
        },
    ),
    "iban": (
        _ALL,
        _spaced_iban,
        {
            "es": ("mi IBAN es {}", "hagan la devolución a la cuenta {}"),
            "pt": ("meu IBAN é {}", "devolvam para a conta {}"),
            "en": ("refund to IBAN {}", "my account is {}"),
        },
    ),
    "cpf": (("pt_BR",), _cpf, {"pt": ("meu CPF é {}", "CPF do titular {}", "{} é o meu cpf")}),
    "cnpj": (("pt_BR",), _cnpj, {"pt": ("o CNPJ da empresa é {}", "faturar para {} por favor")}),
    "rg": (("pt_BR",), _plain("rg"), {"pt": ("meu RG é {}", "RG {} emitido em SP")}),
    "curp": (("es_MX",), _plain("curp"), {"es": ("mi CURP es {}", "CURP: {}", "{} es mi curp")}),
    "rfc": (("es_MX",), _rfc, {"es": ("facturar al RFC {}", "mi RFC es {}", "RFC {} por favor")}),
    "nss": (("es_MX",), _plain("ssn"), {"es": ("mi número de seguro social es {}", "NSS {}")}),
    "cedula": (
        ("es_CO",),
        _nuip,
        {"es": ("mi cédula es {}", "C.C. {}", "número de documento {}", "cédula de ciudadanía {}")},
    ),
    "nit": (("es_CO",), _nit, {"es": ("NIT {}", "el NIT de la empresa es {}")}),
    "dni_ar": (("es_AR",), _dni_ar, {"es": ("mi DNI es {}", "DNI {}", "documento {} a mi nombre")}),
    "dni_ar_dotted": (
        ("es_AR",),
        _dni_ar_dotted,
        {"es": ("te paso el número: {}", "es el {}, a nombre de mi mamá", "{}")},
    ),
    "cuit": (("es_AR",), _cuit, {"es": ("mi CUIT es {}", "CUIL {}", "{} es mi cuil")}),
    "rut": (("es_CL",), _rut, {"es": ("mi RUT es {}", "RUN {}", "el rut {} es de mi empresa")}),
    "ssn": (("en_US",), _ssn, {"en": ("my SSN is {}", "social security number {}", "SSN: {}")}),
    "dni_es": (("es_ES",), _dni_es, {"es": ("mi DNI es {}", "NIE {}", "{} es mi documento")}),
}
KINDS = tuple(_KINDS)
_OPENERS = {
    "es": ("", "Hola, ", "Buenas tardes. ", "Sí, claro: ", "Perdón, "),
    "pt": ("", "Olá, ", "Boa tarde. ", "Sim, claro: ", "Desculpa, "),
    "en": ("", "Hi, ", "Good afternoon. ", "Sure: ", "Sorry, "),
}
_CLOSERS = {
    "es": ("", ".", ". Gracias", " y el pedido sigue sin llegar", ". El plan cuesta $25.990"),
    "pt": ("", ".", ". Obrigado", " e o pedido não chegou", ". A fatura veio R$ 1.234,56"),
    "en": ("", ".", ". Thanks", " and the order is still late", ". The bill was $45.90"),
}


def build(seed: int, per_kind: int = 1000) -> list[Sample]:
    """``per_kind`` sentences of every kind, its locales taken in turn; the same seed, the same
    corpus.

    Args:
        seed: Seeds Faker and the choice of formats and templates.
        per_kind: Values of each kind.

    Returns:
        The samples, kind by kind.
    """
    rng = random.Random(seed)
    fakers: dict[str, Faker] = {}
    samples: list[Sample] = []
    for kind, (locales, value, templates) in _KINDS.items():
        for n in range(per_kind):
            locale = locales[n % len(locales)]
            if locale not in fakers:
                fakers[locale] = Faker(locale)
                fakers[locale].seed_instance(seed)
            language = _LANGUAGE.get(locale, "es")
            raw = value(fakers[locale], rng)
            sentence = rng.choice(templates[language]).format(raw)
            text = rng.choice(_OPENERS[language]) + sentence + rng.choice(_CLOSERS[language])
            samples.append(Sample(kind, locale, raw, text))
    return samples
