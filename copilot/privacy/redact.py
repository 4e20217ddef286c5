"""Mask personal data (cards, e-mails, phones, national ids) in es/en/pt text before storing it."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeAlias

from copilot.privacy import checks
from copilot.privacy import patterns as p

_Finding: TypeAlias = tuple[str, int, int]
"""A label and the span of the matched string that it replaces."""
_Classifier: TypeAlias = Callable[[re.Match[str]], str | _Finding | None]
"""A label for the match's ``pii`` group, a `_Finding` for another span, or None to keep it."""
_LOOK_BACK = 60
"""Characters before a match searched for a context word."""
_DIGIT_GROUP = re.compile(r"\d+")


def _compile(source: str, *, ignore_case: bool = True) -> re.Pattern[str]:
    return re.compile(source, re.IGNORECASE if ignore_case else 0)


_REFERENCE_BEFORE = _compile(p.REFERENCE_BEFORE)
_AMOUNT_BEFORE = _compile(p.AMOUNT_BEFORE)
_LOCAL_NUMBER = _compile(p.LOCAL_NUMBER)


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

    Rules run in a fixed order so that findings do not overlap: e-mails (also spelled out, as in
    ``maria [at] example.com``) and IBANs first, then formatted ids (CNPJ, CPF, Spanish DNI/NIE,
    RUT/NIT, CUIT, CURP, RFC), cards (Luhn-checked), bare CNPJ/CPF, US SSNs, ids and passports
    introduced by a context word (``cédula``, ``DNI``, ``SSN``, ``pasaporte``, ...), dotted DNIs
    and phone numbers last. Numbers without a distinctive format count only when their check
    digits (python-stdnum) hold or a context word names them. Rules repeat until nothing changes,
    so redacting twice is a no-op. Instances hold only compiled patterns and a frozen allowlist
    (swapped whole by :meth:`publish`), and are safe to share between threads.

    Args:
        published: Strings the KB itself publishes (a hotline, a support e-mail; see
            :meth:`published_in`): a finding whose text is exactly one of them is kept, since it is
            the company's contact point, not the customer's data.
    """

    def __init__(self, published: Iterable[str] = ()) -> None:
        self._published = frozenset(published)
        not_a_number_id = _compile(p.NOT_A_NUMBER_ID)
        self._rules: tuple[_Rule, ...] = (
            _Rule(_compile(p.EMAIL), _always("EMAIL")),
            _Rule(_compile(p.EMAIL_SPELLED), _always("EMAIL")),
            _Rule(_compile(p.IBAN, ignore_case=False), _if_valid("IBAN", checks.iban_ok)),
            _Rule(_compile(p.CNPJ_FORMATTED), _always("CNPJ")),
            _Rule(_compile(p.CPF_FORMATTED), _always("CPF")),
            _Rule(_compile(p.ES_ID), _valid_or_named("DNI", checks.es_id_ok, "DNI", "NIE", "NIF")),
            _Rule(_compile(p.RUT_FORMATTED), _if_valid("DNI", _rut_or_nit_ok)),
            _Rule(_compile(p.CUIT), _if_valid("DNI", checks.cuit_ok)),
            _Rule(_compile(p.CURP), _valid_or_named("CURP", checks.curp_ok, "CURP")),
            _Rule(_compile(p.RFC), _valid_or_named("RFC", checks.rfc_ok, "RFC")),
            _Rule(_compile(p.CARD), _find_card),
            _Rule(_compile(p.CNPJ, ignore_case=False), _unless_reference("CNPJ", _cnpj_ok)),
            _Rule(_compile(p.CPF_BARE), _unless_reference("CPF", checks.cpf_ok)),
            _Rule(_compile(p.SSN), _if_valid("SSN", checks.ssn_ok)),
            _Rule(_compile(p.ID_CONTEXT), _classify_id),
            _Rule(_compile(p.PASSPORT), _always("PASSPORT")),
            _Rule(_compile(p.DOTTED_ID), _classify_dotted_id, barrier=not_a_number_id),
            _Rule(_compile(p.LOCAL_PHONE), _classify_local_phone, barrier=not_a_number_id),
            _Rule(_compile(p.PHONE), _classify_phone, barrier=not_a_number_id),
        )

    def redact(self, text: str) -> Redaction:
        """Replace every finding in ``text`` with its label.

        Args:
            text: Any chat, transcript or log text.

        Returns:
            The redacted text and the number of replacements per label.
        """
        counts: dict[str, int] = {}
        published = self._published  # one allowlist per call, even if `publish` swaps it meanwhile
        # A replacement can free a neighbour that a lookbehind had blocked (``a@b.co12@c.co``), so
        # run to a fixpoint; it ends because every finding holds a digit, an ``@`` or a spelled
        # "at", and labels hold none.
        previous = None
        while text != previous:
            previous = text
            for rule in self._rules:
                text = _apply(rule, text, counts, published)
        return Redaction(text=text, counts=MappingProxyType(counts))

    def publish(self, published: Iterable[str]) -> None:
        """Replace the allowlist (the KB changed); redactions already running keep the old one."""
        self._published = frozenset(published)

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


def _valid_or_named(label: str, check: Callable[[str], bool], *words: str) -> _Classifier:
    """Label a match whose check digits hold, or one right after a word that names its kind.

    A customer who writes "mi CURP es ..." means a CURP even with a typo in its check digit.
    """
    named = _compile(p.named_before(*words))

    def classify(match: re.Match[str]) -> str | None:
        start = match.start("pii")
        if check(match["pii"]) or named.search(match.string, max(0, start - _LOOK_BACK), start):
            return label
        return None

    return classify


def _unless_reference(label: str, check: Callable[[str], bool]) -> _Classifier:
    """Label a bare number whose check digits hold, unless it follows "pedido", "protocolo"...

    One random number in a hundred passes a two-digit check, and an order number is no id.
    """

    def classify(match: re.Match[str]) -> str | None:
        if _before(_REFERENCE_BEFORE, match) or not check(match["pii"]):
            return None
        return label

    return classify


def _before(pattern: re.Pattern[str], match: re.Match[str]) -> bool:
    start = match.start("pii")
    return pattern.search(match.string, max(0, start - _LOOK_BACK), start) is not None


def _rut_or_nit_ok(text: str) -> bool:
    return checks.rut_ok(text) or checks.nit_ok(text)


def _cnpj_ok(text: str) -> bool:
    # Twelve letters and two digits is a word or a coupon code, not a company.
    return any(c.isdigit() for c in text[:-2]) and checks.cnpj_ok(text)


def _classify_id(match: re.Match[str]) -> str:
    if match["cedula"]:
        return "CEDULA"
    if match["ssn"]:
        return "SSN"
    return "CPF" if match["cpf"] else "DNI"


def _classify_dotted_id(match: re.Match[str]) -> str | None:
    if _before(_AMOUNT_BEFORE, match) or _before(_REFERENCE_BEFORE, match):
        return None
    return "DNI"


def _classify_local_phone(match: re.Match[str]) -> str | None:
    if _before(_AMOUNT_BEFORE, match) or _before(_REFERENCE_BEFORE, match):
        return None
    return "PHONE"


def _classify_phone(match: re.Match[str]) -> str | None:
    end = match.start("ext") if match["ext"] else match.end("pii")
    raw = match.string[match.start("pii") : end]
    digits = checks.digits(raw)
    if _LOCAL_NUMBER.fullmatch(raw):
        return None if _before(_REFERENCE_BEFORE, match) else "PHONE"
    if not 8 <= len(digits) <= 15:
        return None
    separators = {c for c in raw if not c.isdigit()}
    groups = re.split(rf"[ .{p.SPACES}-]", raw)
    if separators == {"."} and all(len(g) == 3 for g in groups[1:]):
        return None  # 12.299.990 is an amount with thousands separators
    if not raw.startswith(("+", "(")) and _before(_REFERENCE_BEFORE, match):
        return None  # "pedido 3001234567", "factura 0001-00012345"
    return "PHONE"


def _find_card(match: re.Match[str]) -> _Finding | None:
    """The longest valid card number in a run of digit groups.

    Stretches of whole groups come first, so a neighbouring number in the same run (an expiry
    date, a phone) is left to its own rule. A run of more than 19 digits in several groups cannot
    be one number: speech recognition regroups and repeats spoken digits, so there any valid
    stretch of digits counts, and the groups it touches are masked. A 12-digit (Maestro) card
    does not count after an order or invoice word: "factura 5756-64636199" is an invoice.
    """
    lengths = checks.CARD_LENGTHS
    if _before(_REFERENCE_BEFORE, match):
        lengths = range(lengths.start + 1, lengths.stop)
    base = match.start("pii")
    groups = [(base + g.start(), base + g.end()) for g in _DIGIT_GROUP.finditer(match["pii"])]
    texts = [checks.digits(match.string[a:b]) for a, b in groups]
    best: tuple[int, int, int] | None = None  # digits, first group, last group
    for i in range(len(groups)):
        joined = ""
        for j in range(i, len(groups)):
            joined += texts[j]
            if len(joined) > lengths[-1]:
                break
            if len(joined) in lengths and (best is None or len(joined) > best[0]):
                if checks.card_ok(joined):
                    best = (len(joined), i, j)
    if best is None:
        digits = "".join(texts)
        if len(groups) < 2 or len(digits) <= lengths[-1]:
            return None
        owner = [n for n, t in enumerate(texts) for _ in t]
        best = next(
            (
                (length, owner[at], owner[at + length - 1])
                for length in reversed(lengths)
                for at in range(len(digits) - length + 1)
                if checks.card_ok(digits[at : at + length])
            ),
            None,
        )
        if best is None:
            return None
    return "CARD", groups[best[1]][0], groups[best[2]][1]
