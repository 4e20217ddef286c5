"""Cut documents into passages that follow headings and sentences, bounded in size, with overlap."""

from __future__ import annotations

import re
from collections.abc import Iterator

from copilot.domain import Chunk, Document

CHUNKER_VERSION = "1"
"""Bump when chunking changes, so stored indexes built by the old chunker are rebuilt."""

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# A sentence ends at . ! ? … followed by space; Spanish opening marks ¿ ¡ stay with the next
# sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'(¿¡A-ZÁÉÍÓÚÑÇÂÊÔÃÕ0-9-])")


def _sections(doc: Document) -> Iterator[tuple[str, list[str]]]:
    """Yield ``(heading path, paragraphs)`` per section; the title is not repeated in the path."""
    path: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for line in doc.text.splitlines():
        match = _HEADING.match(line.strip())
        if match:
            flush()
            if paragraphs:
                yield _path_label(path, doc.title), list(paragraphs)
                paragraphs.clear()
            level, heading = len(match.group(1)), match.group(2)
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
        elif not line.strip():
            flush()
        elif line.lstrip().startswith(("- ", "* ", "+ ")) or re.match(r"^\s*\d+[.)]\s", line):
            flush()  # each list item is its own unit, so steps are never glued together
            current.append(line.strip())
        else:
            current.append(line.strip())
    flush()
    if paragraphs:
        yield _path_label(path, doc.title), paragraphs


def _path_label(path: list[tuple[int, str]], title: str) -> str:
    names = [h for _, h in path]
    if names and names[0].strip().lower() == title.strip().lower():
        names = names[1:]
    return " > ".join(names)


def _units(paragraph: str, max_chars: int) -> Iterator[str]:
    for sentence in _SENTENCE_END.split(paragraph):
        sentence = sentence.strip()
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            yield sentence[:cut].strip()
            sentence = sentence[cut:].strip()
        if sentence:
            yield sentence


def chunk_document(doc: Document, max_chars: int, overlap_chars: int) -> list[Chunk]:
    """Split a document into passages of at most ``max_chars`` characters.

    Passages never cross a section boundary. Within a section, sentences are packed greedily; the
    next passage starts with the last sentences of the previous one, up to ``overlap_chars``, so an
    answer split across a boundary is still found whole in one passage.

    Args:
        doc: The document; ``#`` lines in its text are headings.
        max_chars: Upper bound on a passage's length in characters.
        overlap_chars: Upper bound on the repeated text at the start of the next passage.

    Returns:
        The passages in reading order, numbered from 0.
    """
    chunks: list[Chunk] = []
    for section, paragraphs in _sections(doc):
        units = [u for p in paragraphs for u in _units(p, max_chars)]
        window: list[str] = []
        fresh = False  # whether the window holds text not yet emitted
        for unit in units:
            if window and len(" ".join([*window, unit])) > max_chars:
                if fresh:
                    chunks.append(Chunk(doc.doc_id, len(chunks), section, " ".join(window)))
                window = _tail(window, overlap_chars, max_chars - len(unit) - 1)
            window.append(unit)
            fresh = True
        if fresh:
            chunks.append(Chunk(doc.doc_id, len(chunks), section, " ".join(window)))
    return chunks


def _tail(window: list[str], overlap_chars: int, room: int) -> list[str]:
    """The last sentences of ``window`` that fit both the overlap budget and the room left."""
    tail: list[str] = []
    size = 0
    for unit in reversed(window):
        size += len(unit) + 1
        if size > min(overlap_chars, room):
            break
        tail.insert(0, unit)
    return tail


def passage_text(title: str, section: str, text: str) -> str:
    """The text that is embedded and indexed for a passage: title and section give it context."""
    head = f"{title} > {section}" if section else title
    return f"{head}\n{text}"
