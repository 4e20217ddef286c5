"""Regular expressions for the personal data the redactor finds, as source strings.

Each finding pattern names the personal part ``pii``; text around it (a context word) is kept. The
redactor compiles them case-insensitively, except IBAN and CNPJ (upper-case letters only).
"""

from __future__ import annotations

SPACES = "\u00a0\u2007\u2009\u202f"
"""No-break, figure, thin and narrow no-break spaces: editors and chat apps put them in numbers."""
_SEP = rf"[ .{SPACES}-]"
"""One separator between the digit groups of a phone number."""
GAP = r"(?P<gap>[\s:#.,º°-]*(?:[^\W\d_]+[\s:#.,º°-]+){0,4}?)"
"""Up to four words between a context word and its number: "el NIT de la empresa es 9001234567"."""
_EXTENSION = (
    r"(?P<ext>\s?(?:x|ext\.?|extensi[óo]n|extens[ãa]o|ramal|anexo|interno|int\.)\s?\d{1,6})"
)

EMAIL = r"(?<![\w.%+-])(?P<pii>[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}[\w-]*)"
# "maria [at] example.com", "maria @ example.com", "maria(at)example(dot)com", and speech
# recognition's "maria arroba gmail punto com". A bare " at " is not enough ("bought it at
# amazon.com"), nor a space before "@" only ("addresses ending in @bank.com" is a domain), and a
# dot needs no spaces around it unless spelled, so that "maria @ home. Thanks" stays.
_AT = r"(?:\s+@\s+|@\s+|\s*[\[({<]\s*(?:at|arroba)\s*[\])}>]\s*|\s+arroba\s+)"
_DOT = r"(?:\.|\s*[\[({<]\s*(?:dot|punto|ponto)\s*[\])}>]\s*|\s+(?:dot|punto|ponto)\s+)"
EMAIL_SPELLED = (
    rf"(?<![\w.%+-])(?P<pii>[\w.%+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*?{_DOT}[^\W\d_]{{2,}})(?![\w-])"
)
_IBAN_SEP = f"[ {SPACES}]?"
IBAN = (
    rf"(?<!\w)(?P<pii>[A-Z]{{2}}\d{{2}}(?:{_IBAN_SEP}[A-Z\d]{{4}}){{2,7}}"
    rf"(?:{_IBAN_SEP}[A-Z\d]{{1,4}})?)(?!\w)"
)
CNPJ_FORMATTED = r"(?<![\w./-])(?P<pii>\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2})(?![\w/]|[.-]\d)"
# The alphanumeric CNPJ (from July 2026) or a bare one: case-sensitive, check digits verified.
CNPJ = (
    r"(?<![\w./-])(?P<pii>[A-Z\d]{2}\.?[A-Z\d]{3}\.?[A-Z\d]{3}/?[A-Z\d]{4}-?\d{2})(?![\w/]|[.-]\d)"
)
CPF_FORMATTED = r"(?<![\w./-])(?P<pii>\d{3}\.?\d{3}\.?\d{3}-\d{2})(?![\w/]|[.-]\d)"
CPF_BARE = r"(?<![\w.,/-])(?P<pii>\d{11})(?!\w|[.,/-]\d)"
# Spanish DNI (8 digits and a letter) and NIE (X, Y or Z, 7 digits and a letter).
ES_ID = r"(?<![\w./-])(?P<pii>(?:\d{8}|\d{2}\.\d{3}\.\d{3})-?[A-Z]|[XYZ]-?\d{7}-?[A-Z])(?!\w)"
# Chilean RUT and Colombian NIT: dotted or bare digits, a dash and the check digit.
RUT_FORMATTED = (
    r"(?<![\w./-])(?P<pii>\d{1,3}(?:\.\d{3}){1,2}-[\dkK]|\d{7,8}-[\dkK])(?![\w/]|[.-]\d)"
)
CUIT = r"(?<![\w./-])(?P<pii>\d{2}-\d{8}-\d)(?![\w/]|[.-]\d)"
CURP = r"(?<!\w)(?P<pii>[A-Z]{4}\d{6}[HM][A-Z]{5}[0-9A-Z]\d)(?!\w)"
RFC = (
    r"(?<![\w&])(?P<pii>[A-ZÑ&]{3,4}[ -]?\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[ -]?"
    r"[A-Z\d]{3})(?![\w&])"
)
# Digit groups joined by single spaces (of any width), dashes, dots, commas, slashes or
# underscores: people (and speech recognition, which regroups spoken digits at will:
# "4-532-0151-128-3-0366") write a card in any grouping. The card finder picks the Luhn-valid
# stretch inside the run.
CARD = rf"(?<![\w.,/-])(?P<pii>\d+(?:[ .,/_{SPACES}-]\d+)*)(?!\w|[.,/-]\d)"
SSN = r"(?<![\w-])(?P<pii>\d{3}-\d{2}-\d{4})(?!\w|-\d)"
# National ids of CO/AR/PE/CL/BR are bare digits, so they count only after a context word.
ID_CONTEXT = (
    r"(?<![\w.])(?:"
    r"(?P<cedula>c[ée]dula|(?-i:C\.?C\.?|C\.?I\.?))"
    r"|(?P<cpf>CPF)"
    r"|(?P<ssn>SSN|social\s+security(?:\s+number)?|seguro\s+social|(?-i:NSS))"
    r"|n[úu]mero\s+de\s+documento|documento|D\.?N\.?I\.?|R\.?U\.?[TNC]\.?|CUI[LT]|NIT|NUIP"
    r"|identidade?|identificaci[óo]n|identifica[çc][ãa]o|identity|identification"
    r"|(?:national\s+)?(?-i:ID)\s*(?:number|no\.|n[º°]|\#)|national\s+(?-i:ID)|(?-i:RG)"
    r")(?![^\W\d_])"
    + GAP
    + r"(?P<pii>\d{1,3}(?:\.\d{3}){1,3}(?:-[\dkKxX]|[kKxX])?|\d{2}-\d{8}-\d|\d{3}[ -]\d{2}[ -]\d{4}"
    r"|\d{6,11}(?:-[\dkKxX]|[kKxX])?|\d{4,5}-[\dkK])"
    r"(?!\w|[.,]?\d)"
)
PASSPORT = (
    r"(?<![\w.])(?:pas+aporte|passport)(?![^\W\d_])"
    + GAP
    + r"(?P<pii>(?=[A-Z]*\d)[A-Z\d]{6,9})(?!\w)"
)
# An Argentine DNI (or a Chilean RUT without its check digit) written with dots: 12.345.678.
DOTTED_ID = r"(?<![\w.,/$-])(?P<pii>\d{1,2}\.\d{3}\.\d{3})(?![\w/]|[.,-]?\d)"
# A 7-digit local number needs a phone word before it: "mi fijo es 4035780", "tel. 111 33 06".
LOCAL_PHONE = (
    r"(?<![\w.])(?:tel[ée]fonos?|telefone|tel|fono|fone|cel(?:ular)?|cell(?:phone)?|m[óo]vil"
    r"|mobile|phone|whats(?:app)?|wpp|zap|fijo|fixo|landline|ll[áa]m\w*|lig\w*|call|text"
    r"|contact\w*|contat\w*|reach"
    r"|n[úu]mero|number|nro)(?![^\W\d_])" + GAP + rf"(?P<pii>\d(?:{_SEP}?\d){{6}}{_EXTENSION}?)"
    rf"(?!\w|(?:,|{_SEP})?\d)"
)
PHONE = (
    r"(?<![\w#$€£/.,+-])(?P<pii>(?:"
    rf"(?:\(\+\d{{1,3}}\)|\+\d{{1,3}})(?:{_SEP}?\(\d{{1,4}}\))?{_SEP}?\d{{1,14}}(?:{_SEP}\d{{2,5}}){{0,4}}"
    rf"|\(\d{{2,4}}\){_SEP}?\d{{2,9}}(?:{_SEP}\d{{2,5}}){{0,3}}"  # (11) 91234-5678
    rf"|\d{{1,8}}(?:{_SEP}\d{{1,8}}){{1,14}}"  # 300 123 4567, 011 15-1234-5678, "3 0 0 1 2…"
    r"|\d{10,13}|9\d{8})"  # bare national numbers; 9xxxxxxxx is a PE/CL mobile
    rf"{_EXTENSION}?)"
    r"(?![\w%]|[.,:/-]?\d)"
)
LOCAL_NUMBER = r"[2-9]\d{2}-\d{4}"
"""A US-style 7-digit local number, 555-1234: a phone even without a context word."""
# Dates, times, amounts, percentages and quantities: a phone or dotted-id candidate never spans one.
NOT_A_NUMBER_ID = (
    r"(?<!\d)(?:(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:(?:19|20)\d{2}|\d{2})"
    r"|\d{1,2}:\d{2}(?::\d{2})?)(?!\d)"
    r"|(?:R\$|US\$|\$|€|£|S/\.?|\b(?:USD|MXN|COP|ARS|CLP|PEN|BRL|EUR|UF)\b)\s?\d[\d.,]*"
    r"|(?<![\d.,])\d[\d.,]*\s?(?:%|\b(?:pesos|reais|reales|soles|d[óo]lares|dollars|USD|MXN|COP|ARS"
    r"|CLP|PEN|BRL|EUR)\b)"
    # the upper end of a range ("500-1000 minutos"); short, so a phone before a unit word is kept
    r"|(?<![\d.,])\d{1,4}(?:[.,]\d{1,3})?\s?(?:minutos?|min|segundos?|horas?|hours?|d[íi]as|days?"
    r"|meses|months?|años|anos|years?|[GMK]B|gigas?|megas?|SMS|mensajes|mensagens|messages"
    r"|cuotas|parcelas|installments|puntos|pontos|points|km|kg|unidades|units)\b"
)
# A bare digit run right after one of these words is an order or ticket number, not a phone.
REFERENCE_BEFORE = (
    r"(?:pedido|orden|order|ordem|protocolo|ticket|factura|fatura|invoice|boleta|gu[íi]a"
    r"|tracking|rastreio|sku|serie|serial|\#)[\s:#.º°-]*(?:[^\W\d_]+[\s:#.º°-]+)?$"
)
# A dotted number right after one of these words is an amount, not an id.
AMOUNT_BEFORE = (
    r"(?:vale|valor|cuesta|costo|cost[óo]|custa|custo|precio|pre[çc]o|price|costs?|total|monto"
    r"|importe|saldo|deuda|d[íi]vida|cobr\w*|pag\w*|paid|pay|charged?|amount|balance)"
    r"[\s:=]*(?:(?:de|of|es|é|is|un|una|um|uma|el|la|o|a)\s+)*$"
)


def named_before(*words: str) -> str:
    """A pattern for a context word (one of ``words``) just before a match, up to 4 words away."""
    return (
        rf"(?<![\w.])(?:{'|'.join(words)})(?![^\W\d_])[\s:#.,º°-]*(?:[^\W\d_]+[\s:#.,º°-]+){{0,4}}$"
    )
