"""Mask personal data (cards, e-mails, phones, national ids) in es/en/pt text before storing it."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

_Finding: TypeAlias = tuple[str, int, int]
"""A label and the span of the matched string that it replaces."""
_Classifier: TypeAlias = Callable[[re.Match[str]], str | _Finding | None]
"""A label for the match's ``pii`` group, a `_Finding` for another span, or None to keep it."""

# Each pattern names the personal part ``pii``; text around it (a context word) is kept.
_EMAIL = r"(?<![\w.%+-])(?P<pii>[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}[\w-]*)"
_IBAN = r"(?<!\w)(?P<pii>[A-Z]{2}\d{2}(?: ?[A-Z\d]{4}){2,7}(?: ?[A-Z\d]{1,4})?)(?!\w)"
_CNPJ_FORMATTED = r"(?<![\w./-])(?P<pii>\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2})(?![\w/]|[.-]\d)"
_CPF_FORMATTED = r"(?<![\w./-])(?P<pii>\d{3}\.?\d{3}\.?\d{3}-\d{2})(?![\w/]|[.-]\d)"
_RUT_FORMATTED = r"(?<![\w./-])(?P<pii>\d{1,2}\.\d{3}\.\d{3}-[\dkK])(?![\w/]|[.-]\d)"
_CURP = r"(?<!\w)(?P<pii>[A-Z][AEIOUX][A-Z]{2}\d{6}[HM][A-Z]{5}[0-9A-Z]\d)(?!\w)"
_RFC = (
    r"(?<![\w&])(?P<pii>[A-ZÑ&]{3,4}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[A-Z\d]{3})"
    r"(?![\w&])"
)
# Digit groups joined by single spaces, dashes, dots or commas: people (and speech recognition,
# which regroups spoken digits at will: "4-532-0151-128-3-0366") write a card in any grouping.
# `_find_card` picks the Luhn-valid stretch inside the run.
_CARD = r"(?<![\w.,-])(?P<pii>\d+(?:[ .,-]\d+)*)(?!\w|[.,-]\d)"
_CARD_LENGTHS = range(13, 20)
_DIGIT_GROUP = re.compile(r"\d+")
_BARE_DIGITS = r"(?<![\w.,/-])(?P<pii>\d{{{n}}})(?!\w|[.,/-]\d)"
_SSN = r"(?<![\w-])(?P<pii>(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4})(?!\w|-\d)"
# National ids of CO/AR/PE/CL/BR are bare digits, so they count only after a context word.
_ID_CONTEXT = (
    r"(?<![\w.])(?:"
    r"(?P<cedula>c[ée]dula|(?-i:C\.?C\.?|C\.?I\.?))"
    r"|(?P<cpf>CPF)"
    r"|n[úu]mero\s+de\s+documento|documento|D\.?N\.?I\.?|R\.?U\.?[TN]\.?|CUI[LT]"
    r"|identidade?|identificaci[óo]n|identifica[çc][ãa]o|identity|identification"
    r"|(?:national\s+)?(?-i:ID)\s*(?:number|no\.|n[º°]|\#)|national\s+(?-i:ID)|(?-i:RG)"
    r")(?![^\W\d_])"
    r"(?P<gap>[\s:#.,º°-]*(?:[^\W\d_]+[\s:#.,º°-]+){0,3}?)"
    r"(?P<pii>\d{1,3}(?:\.\d{3}){1,3}(?:-[\dkK])?|\d{2}-\d{8}-\d|\d{6,11}(?:-[\dkK])?)"
    r"(?!\w|[.,]?\d)"
)
_PHONE = (
    r"(?<![\w#$€£/.,+-])(?P<pii>"
    r"\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,14}(?:[ .-]\d{2,5}){0,4}"  # +55 11 91234-5678
    r"|\(\d{2,4}\)[ .-]?\d{2,9}(?:[ .-]\d{2,5}){0,3}"  # (11) 91234-5678
    r"|\d{1,8}(?:[ .-]\d{1,8}){1,14}"  # 300 123 4567, 011 15-1234-5678, spoken "3 0 0 1 2…"
    r"|\d{10,13}|9\d{8})"  # bare national numbers; 9xxxxxxxx is a PE/CL mobile
    r"(?![\w%]|[.,:/-]?\d)"
)
# Dates, times, amounts and percentages: a phone candidate never spans one of these.
_NOT_A_PHONE = (
    r"(?<!\d)(?:(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:(?:19|20)\d{2}|\d{2})"
    r"|\d{1,2}:\d{2}(?::\d{2})?)(?!\d)"
    r"|(?:R\$|US\$|\$|€|£|S/\.?|\b(?:USD|MXN|COP|ARS|CLP|PEN|BRL|EUR|UF)\b)\s?\d[\d.,]*"
    r"|(?<![\d.,])\d[\d.,]*\s?(?:%|\b(?:pesos|reais|reales|soles|d[óo]lares|dollars|USD|MXN|COP|ARS|CLP"
    r"|PEN|BRL|EUR)\b)"
)
# A bare digit run right after one of these words is an order or ticket number, not a phone.
_REFERENCE_BEFORE = (
    r"(?:pedido|orden|order|ordem|protocolo|ticket|factura|fatura|invoice|boleta|gu[íi]a"
    r"|tracking|rastreio|\#)[\s:#.º°-]*(?:[^\W\d_]+[\s:#.º°-]+)?$"
)


@dataclass(frozen=True, slots=True)
class Redaction:
    """Text with its personal data replaced by bracketed labels such as ``[EMAIL]``.

    Attributes:
        text: The redacted text.
        counts: How many findings were replaced, per label without brackets (``{"EMAIL": 1}``);
            labels with no finding are absent.
    """

    text: str
    counts: Mapping[str, int]

    @property
    def changed(self) -> bool:
        """Whether anything was replaced."""
        return bool(self.counts)


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    classify: _Classifier
    barrier: re.Pattern[str] | None = None


class Redactor:
    """Finds personal data in chat text (es, en, pt) and replaces it with labels.

    Rules run in a fixed order so that findings do not overlap: e-mails and IBANs first, then the
    formatted Brazilian, Chilean and Mexican ids, cards (Luhn-checked), bare CPF/CNPJ (check digits
    verified), US SSNs, ids introduced by a context word (``cédula``, ``DNI``, ``RUT``, ``RG``, ...)
    and phone numbers last. Rules repeat until nothing changes, so redacting twice is a no-op.
    Instances hold only compiled patterns and a frozen allowlist, and are safe to share between
    threads.

    Args:
        published: Strings the KB itself publishes (a hotline, a support e-mail; see
            :meth:`published_in`): a finding whose text is exactly one of them is kept, since it is
            the company's contact point, not the customer's data.
    """

    def __init__(self, published: Iterable[str] = ()) -> None:
        self._published = frozenset(published)

        def compile_(source: str, *, ignore_case: bool = True) -> re.Pattern[str]:
            return re.compile(source, re.IGNORECASE if ignore_case else 0)

        self._reference_before = compile_(_REFERENCE_BEFORE)
        self._rules: tuple[_Rule, ...] = (
            _Rule(compile_(_EMAIL), _always("EMAIL")),
            _Rule(compile_(_IBAN, ignore_case=False), _if_valid("IBAN", _iban_ok)),
            _Rule(compile_(_CNPJ_FORMATTED), _always("CNPJ")),
            _Rule(compile_(_CPF_FORMATTED), _always("CPF")),
            _Rule(compile_(_RUT_FORMATTED), _if_valid("DNI", _rut_ok)),
            _Rule(compile_(_CURP), _always("CURP")),
            _Rule(compile_(_RFC), _always("RFC")),
            _Rule(compile_(_CARD), _find_card),
            _Rule(compile_(_BARE_DIGITS.format(n=14)), _if_valid("CNPJ", _cnpj_ok)),
            _Rule(compile_(_BARE_DIGITS.format(n=11)), _if_valid("CPF", _cpf_ok)),
            _Rule(compile_(_SSN), _always("SSN")),
            _Rule(compile_(_ID_CONTEXT), _classify_id),
            _Rule(compile_(_PHONE), self._classify_phone, barrier=compile_(_NOT_A_PHONE)),
        )

    def redact(self, text: str) -> Redaction:
        """Replace every finding in ``text`` with its label.

        Args:
            text: Any chat, transcript or log text.

        Returns:
            The redacted text and the number of replacements per label.
        """
        counts: dict[str, int] = {}
        # A replacement can free a neighbour that a lookbehind had blocked (``a@b.co12@c.co``), so
        # run to a fixpoint; it ends because every finding holds a digit or ``@`` and labels none.
        previous = None
        while text != previous:
            previous = text
            for rule in self._rules:
                text = _apply(rule, text, counts, self._published)
        return Redaction(text=text, counts=MappingProxyType(counts))

    def published_in(self, texts: Iterable[str]) -> frozenset[str]:
        """The strings this redactor's rules would mask in ``texts``, verbatim.

        Run over the KB's documents, it gives the allowlist for :class:`Redactor`: only text the KB
        prints is kept, so a customer's own number is still masked.

        Args:
            texts: Published text, such as every KB document's title and body.

        Returns:
            The matched personal-looking strings (phones, e-mails, ids), without surrounding text.
        """
        found: set[str] = set()
        for text in texts:
            for rule in self._rules:
                _apply(rule, text, {}, frozenset(), found)
        return frozenset(found)

    def _classify_phone(self, match: re.Match[str]) -> str | None:
        raw = match["pii"]
        digits = _digits(raw)
        if not 8 <= len(digits) <= 15:
            return None
        separators = {c for c in raw if not c.isdigit()}
        groups = re.split(r"[ .-]", raw)
        if separators == {"."} and all(len(g) == 3 for g in groups[1:]):
            return None  # 12.299.990 is an amount with thousands separators
        start = match.start()
        if raw.isdigit() and self._reference_before.search(match.string, max(0, start - 40), start):
            return None
        return "PHONE"


@functools.lru_cache(maxsize=1)
def default_redactor() -> Redactor:
    """Return the shared default :class:`Redactor`, built on first use."""
    return Redactor()


def redact_text(text: str, redactor: Redactor | None = None) -> str:
    """Return ``text`` with its personal data replaced by labels.

    Args:
        text: Any chat, transcript or log text.
        redactor: The redactor to use; :func:`default_redactor` when ``None``.

    Returns:
        The redacted text.
    """
    return (redactor or default_redactor()).redact(text).text


def _apply(
    rule: _Rule,
    text: str,
    counts: dict[str, int],
    published: frozenset[str],
    seen: set[str] | None = None,
) -> str:
    """Replace the rule's findings in ``text``, except published ones; collect them in ``seen``."""

    def replace(match: re.Match[str]) -> str:
        found = rule.classify(match)
        if found is None:
            return match[0]
        label, start, end = (found, *match.span("pii")) if isinstance(found, str) else found
        if seen is not None:
            seen.add(match.string[start:end])
        if match.string[start:end] in published:
            return match[0]
        counts[label] = counts.get(label, 0) + 1
        whole = match.span()
        return f"{match.string[whole[0] : start]}[{label}]{match.string[end : whole[1]]}"

    if rule.barrier is None:
        return rule.pattern.sub(replace, text)
    parts: list[str] = []
    pos = 0
    for kept in rule.barrier.finditer(text):
        parts += (rule.pattern.sub(replace, text[pos : kept.start()]), kept[0])
        pos = kept.end()
    parts.append(rule.pattern.sub(replace, text[pos:]))
    return "".join(parts)


def _always(label: str) -> _Classifier:
    return lambda _match: label


def _if_valid(label: str, check: Callable[[str], bool]) -> _Classifier:
    return lambda match: label if check(match["pii"]) else None


def _find_card(match: re.Match[str]) -> _Finding | None:
    """The longest Luhn-valid stretch of 13-19 digits in a run of digit groups.

    Stretches of whole groups come first, so a neighbouring number in the same run (an expiry
    date, a phone) is left to its own rule. A run of more than 19 digits in several groups cannot
    be one number: speech recognition regroups and repeats spoken digits, so there any Luhn-valid
    stretch of digits counts, and the groups it touches are masked.
    """
    base = match.start("pii")
    groups = [(base + g.start(), base + g.end()) for g in _DIGIT_GROUP.finditer(match["pii"])]
    texts = [match.string[a:b] for a, b in groups]
    best: tuple[int, int, int] | None = None  # digits, first group, last group
    for i in range(len(groups)):
        joined = ""
        for j in range(i, len(groups)):
            joined += texts[j]
            if len(joined) > _CARD_LENGTHS[-1]:
                break
            if len(joined) in _CARD_LENGTHS and (best is None or len(joined) > best[0]):
                if _luhn_ok(joined):
                    best = (len(joined), i, j)
    if best is None:
        digits = "".join(texts)
        if len(groups) < 2 or len(digits) <= _CARD_LENGTHS[-1]:
            return None
        owner = [n for n, t in enumerate(texts) for _ in t]
        best = next(
            (
                (length, owner[at], owner[at + length - 1])
                for length in reversed(_CARD_LENGTHS)
                for at in range(len(digits) - length + 1)
                if _luhn_ok(digits[at : at + length])
            ),
            None,
        )
        if best is None:
            return None
    return "CARD", groups[best[1]][0], groups[best[2]][1]


def _classify_id(match: re.Match[str]) -> str:
    if match["cedula"]:
        return "CEDULA"
    return "CPF" if match["cpf"] else "DNI"


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _luhn_ok(text: str) -> bool:
    digits = [int(c) for c in reversed(_digits(text))]
    doubled = (d * 2 - 9 if d > 4 else d * 2 for d in digits[1::2])
    return len(digits) in range(13, 20) and (sum(digits[::2]) + sum(doubled)) % 10 == 0


def _mod11_digit(digits: str, weights: range | list[int]) -> int:
    rest = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def _cpf_ok(text: str) -> bool:
    d = _digits(text)
    if len(d) != 11 or len(set(d)) == 1:
        return False
    return _mod11_digit(d[:9], range(10, 1, -1)) == int(d[9]) and _mod11_digit(
        d[:10], range(11, 1, -1)
    ) == int(d[10])


def _cnpj_ok(text: str) -> bool:
    d = _digits(text)
    if len(d) != 14 or len(set(d)) == 1:
        return False
    first = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2]
    return _mod11_digit(d[:12], first) == int(d[12]) and _mod11_digit(d[:13], [6, *first]) == int(
        d[13]
    )


def _rut_ok(text: str) -> bool:
    body, check = _digits(text[:-1]), text[-1].upper()
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(body)))
    expected = 11 - total % 11
    return check == {10: "K", 11: "0"}.get(expected, str(expected))


def _iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1
