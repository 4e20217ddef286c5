"""Plain sentences of a KB passage: markdown removed, split where es / en / pt sentences end.

Sentence boundaries come from sentencex (Wikimedia's rule-based segmenter, with abbreviation lists
per language); on top of it, pieces it cuts at the abbreviations a contact-centre KB uses ("aprox.
5 días", "Av. Paulista", "Ltda.") are joined again. No piece is dropped: a fragment joins its
neighbour.
"""

from __future__ import annotations

import re

import sentencex

# Joined to the next piece always: an abbreviation that never ends a sentence in a KB.
_ALWAYS_JOIN = frozenset(
    """aprox approx sr sra srta sres dr dra drs prof profa lic ing eng engº av avda pça
    p. ej e.g i.e vs cía cia ltda s.a s.a.s s.l sto sta ud uds vd vds exmo exma mr mrs ms jr
    dept depto depto pág pag fig cap vol ed ref obs est aprox. máx mín max min tel cel""".split()
)
# Joined only when a number follows: "No. 5", "Nº 12", "núm. 3", "art. 4".
_JOIN_BEFORE_DIGIT = frozenset("no nº n° núm num nro art inc op".split())
_LAST_WORD = re.compile(r"(\S+)\.\s*$")

_TABLE_ROW_BREAK = re.compile(r"\|\s+\|")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
# A list item starts a new piece: after a sentence end or a colon (the chunker joins list items
# onto one line), or at the start of a line.
_LIST_ITEM = re.compile(r"(?:^\s*|(?<=[.!?…:;])\s+)(?:[-*+•]|\d{1,2}[.)])\s+(?=\S)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
_STRONG = re.compile(
    r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])|(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"
)
_EMPHASIS = re.compile(
    r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])|(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"
)
_CODE = re.compile(r"`+([^`]*)`+")
_STRAY = re.compile(r"\*\*|__|`")


def strip_markdown(text: str) -> str:
    """One line of markdown as plain text: links keep their text, emphasis and code marks go.

    A lone ``*`` stays: it is part of phone codes such as ``*611``.
    """
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    for _ in range(2):  # emphasis nested in strong: ***x***
        text = _STRONG.sub(lambda m: m[1] or m[2], text)
        text = _EMPHASIS.sub(lambda m: m[1] or m[2], text)
    text = _STRAY.sub("", text)
    return " ".join(text.split())


def _lines(text: str) -> list[str]:
    """Lines of a passage with markdown tables turned into ``first cell: other cells`` lines."""
    rows = _TABLE_ROW_BREAK.sub("|\n|", text).splitlines()
    out: list[str] = []
    for i, row in enumerate(rows):
        if _TABLE_SEPARATOR.match(row):
            continue
        if row.strip().startswith("|"):
            if i + 1 < len(rows) and _TABLE_SEPARATOR.match(rows[i + 1]):
                continue  # a header row: column names are not a sentence
            body, bar, after = row.strip()[1:].rpartition("|")
            if not bar:  # a lone opening pipe
                body, after = after, ""
            cells = [c.strip() for c in body.split("|") if c.strip()]
            if cells:
                line = f"{cells[0]}: {', '.join(cells[1:])}" if len(cells) > 1 else cells[0]
                out.append(line if line[-1] in ".!?…" else f"{line}.")
            row = after  # prose the chunker put on the same line as the table's last row
        if row.strip():
            out.append(row)
    return out


def _items(line: str) -> list[str]:
    """Cut a line at list-item markers, except a number after "No." or "núm.", which it cites."""
    items: list[str] = []
    start = 0
    for marker in _LIST_ITEM.finditer(line):
        if marker.start() and _joins_next(line[: marker.start()], marker[0].strip()):
            continue
        items.append(line[start : marker.start()])
        start = marker.end()
    items.append(line[start:])
    return items


def _joins_next(piece: str, following: str) -> bool:
    match = _LAST_WORD.search(piece)
    if match is None:
        return False
    word = match[1].lower().lstrip("(¿¡\"'")
    if word in _ALWAYS_JOIN or (len(word) == 1 and word.isalpha()):
        return True  # an initial ("J. Pérez") or a known abbreviation
    return word in _JOIN_BEFORE_DIGIT and following[:1].isdigit()


def _merge(pieces: list[str]) -> list[str]:
    out: list[str] = []
    for piece in pieces:
        if out and (
            _joins_next(out[-1], piece)
            or piece[:1].islower()  # no sentence starts in lower case: a wrong cut
            or not any(c.isalnum() for c in piece)
            or not any(c.isalnum() for c in out[-1])
            or out[-1].endswith(":")  # an introduction joins its first item
        ):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


def plain_sentences(text: str, language: str | None) -> list[str]:
    """Split a passage into plain-text sentences, in order, with nothing left out.

    Args:
        text: Passage text: markdown, possibly with list items and table rows on one line.
        language: The passage's language (``es``, ``en``, ``pt``); sentencex's English rules when
            None.

    Returns:
        The sentences, without markdown, bullets, headings or table pipes. Every word of the
        passage's prose is in one of them.
    """
    lang = language or "en"
    sentences: list[str] = []
    for line in _lines(text):
        line = _HEADING.sub("", line)
        items = [strip_markdown(p) for p in _items(line)]
        for item in items:
            if not item:
                continue
            pieces = [p.strip() for p in sentencex.segment(lang, item) if p.strip()]
            sentences.extend(_merge(pieces))
    return _merge(sentences) if sentences else []
