"""Check digits of the numbers the redactor masks, delegated to python-stdnum.

A digit run that merely looks like an id (an order number, a price) must stay, so bare or loosely
formatted candidates count only when their check digits hold. Each function takes the matched text
with its separators and returns whether it is a valid number of that kind; none raises.
"""

from __future__ import annotations

import re

from stdnum import luhn
from stdnum.ar import cuit
from stdnum.br import cnpj, cpf
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.es import dni, nie
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10
from stdnum.mx import curp, rfc
from stdnum.us import ssn

CARD_LENGTHS = range(12, 20)
"""Digits in a payment card number (ISO/IEC 7812): 12 for some Maestro cards, 13-19 for the rest."""
_MAESTRO_12 = re.compile(r"50(?:18|20|38)|5[6-8]|6304|6390|6759|676[1-3]|0604")
"""Issuer prefixes of the 12-digit Maestro cards; any other 12-digit run is not a card."""


def digits(text: str) -> str:
    """The decimal digits of ``text`` as ASCII (full-width or Arabic-Indic digits included)."""
    return "".join(str(int(c)) for c in text if c.isdecimal())


def card_ok(text: str) -> bool:
    """Whether the digits of ``text`` form a payment card number (length, prefix and Luhn)."""
    number = digits(text)
    if len(number) not in CARD_LENGTHS:
        return False
    if len(number) == 12 and not _MAESTRO_12.match(number):
        return False
    return luhn.is_valid(number)


def cpf_ok(text: str) -> bool:
    """Whether ``text`` is a Brazilian CPF with valid check digits (one repeated digit is not)."""
    number = digits(text)
    return len(set(number)) > 1 and cpf.is_valid(number)


def cnpj_ok(text: str) -> bool:
    """Whether ``text`` is a Brazilian CNPJ, numeric or alphanumeric, with valid check digits.

    Since July 2026 the first 12 characters may be letters; python-stdnum (2.2 and later) computes
    the check digits on each character's ASCII value minus 48, as Receita Federal's rule says.
    """
    compact = re.sub(r"[\s./-]", "", text).upper()
    return len(set(compact)) > 1 and cnpj.is_valid(compact)


def rut_ok(text: str) -> bool:
    """Whether ``text`` is a Chilean RUT/RUN whose check digit (0-9 or K) holds.

    python-stdnum wants 7 or 8 body digits; shorter bodies (old companies) are zero-padded, which
    leaves the mod-11 sum unchanged.
    """
    body, check = digits(text[:-1]), text[-1:].upper()
    return 0 < len(body) <= 8 and rut.is_valid(body.zfill(7) + check)


def nit_ok(text: str) -> bool:
    """Whether ``text`` is a Colombian NIT (a cédula or company number plus its check digit)."""
    return nit.is_valid(digits(text))


def cuit_ok(text: str) -> bool:
    """Whether ``text`` is an Argentine CUIT/CUIL (type prefix and check digit)."""
    return cuit.is_valid(digits(text))


def es_id_ok(text: str) -> bool:
    """Whether ``text`` is a Spanish DNI (8 digits, a letter) or NIE (X/Y/Z, 7 digits, a letter)."""
    compact = re.sub(r"[\s./-]", "", text).upper()
    return dni.is_valid(compact) or nie.is_valid(compact)


def curp_ok(text: str) -> bool:
    """Whether ``text`` is a Mexican CURP with a real birth date, a sex letter and its check digit.

    The state code is not checked against python-stdnum's list: a CURP whose check digit holds is a
    person's CURP even when its state code is one the list lacks.
    """
    number = curp.compact(text)
    try:
        curp.get_birth_date(number)
        curp.get_gender(number)
        return number[-1] == curp.calc_check_digit(number)
    except (ValidationError, ValueError, IndexError):
        return False


def rfc_ok(text: str) -> bool:
    """Whether ``text`` is a Mexican RFC with a real date (check digits are not required: many
    RFCs in use have wrong ones, as python-stdnum notes)."""
    return rfc.is_valid(text)


def ssn_ok(text: str) -> bool:
    """Whether ``text`` is a US SSN the SSA could issue (no 000, 666 or 9xx area, no 00 group)."""
    return ssn.is_valid(digits(text))


def iban_ok(text: str) -> bool:
    """Whether ``text`` is an IBAN whose ISO 7064 mod 97-10 check holds.

    The country's registered layout is not required: an account number with a wrong length for
    its country is still someone's account number.
    """
    compact = re.sub(r"\s", "", text).upper()
    return 15 <= len(compact) <= 34 and mod_97_10.is_valid(compact[4:] + compact[:4])
