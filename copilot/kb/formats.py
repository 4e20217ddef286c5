"""Parsers that turn one source file (Markdown, text, HTML, PDF, CSV, JSONL) into documents."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from bs4 import BeautifulSoup, Tag
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from copilot.domain import Document, FileProblem
from copilot.errors import IngestError

DOC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")


@dataclass(slots=True)
class Parsed:
    """Documents read from one file, plus per-row problems that did not stop the file."""

    documents: list[Document] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)


def slugify(text: str) -> str:
    """Make a document id from a file name or title: ASCII, lowercase, dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "doc"


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = re.split(r"[;,]", value) if isinstance(value, str) else [str(v) for v in value]
    return tuple(t.strip().lower() for t in items if t.strip())


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _doc(path: Path, meta: dict[str, Any], text: str, fallback_title: str) -> Document:
    doc_id = str(meta.get("id") or slugify(path.stem))
    if not DOC_ID_RE.match(doc_id):
        raise IngestError(str(path), f"invalid document id {doc_id!r}")
    if not text.strip():
        raise IngestError(str(path), f"document {doc_id} has no text")
    return Document(
        doc_id=doc_id,
        title=str(meta.get("title") or fallback_title).strip(),
        text=text.strip(),
        source=str(meta.get("source") or path),
        language=_opt(meta.get("language")),
        client=_opt(meta.get("client")),
        tags=_tags(meta.get("tags")),
        entities=tuple(str(e).strip() for e in meta.get("entities") or () if str(e).strip()),
    )


def _first_heading(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise IngestError(str(path), "binary content in a text format")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(str(path), f"not UTF-8 text (byte {exc.start})") from exc


def parse_markdown(path: Path, raw: bytes) -> Parsed:
    """Markdown or plain text, with optional front matter; a .txt file's first line is its title."""
    try:
        post = frontmatter.loads(_decode(path, raw))
    except yaml.YAMLError as exc:
        raise IngestError(str(path), f"front matter is not valid YAML: {exc}") from exc
    body = post.content
    title = _first_heading(body)
    if title is None and path.suffix.lower() == ".txt":
        first, _, rest = body.strip().partition("\n")
        if first.strip() and rest.strip():
            title, body = first.strip(), f"# {first.strip()}\n{rest}"
    return Parsed([_doc(path, dict(post.metadata), body, title or path.stem)])


_SKIPPED_HTML = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript")


def parse_html(path: Path, raw: bytes) -> Parsed:
    """An HTML page: headings become sections; navigation, headers and footers are dropped."""
    soup = BeautifulSoup(_decode(path, raw), "html.parser")

    def meta(name: str) -> str | None:
        tag = soup.find("meta", attrs={"name": name})
        return str(tag.get("content")) if isinstance(tag, Tag) and tag.get("content") else None

    html = soup.find("html")
    lang = html.get("lang") if isinstance(html, Tag) else None
    for tag in soup.find_all(_SKIPPED_HTML):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.body or soup
    lines: list[str] = []
    for el in root.find_all(["h1", "h2", "h3", "h4", "p", "li", "td", "pre", "blockquote"]):
        text = " ".join(el.get_text(" ", strip=True).split())
        if not text or el.find_parent(["li", "td", "blockquote"]) is not None:
            continue
        level = int(el.name[1]) if el.name[0] == "h" and el.name[1:].isdigit() else 0
        lines.append(f"{'#' * level} {text}" if level else ("- " if el.name == "li" else "") + text)
    body = "\n\n".join(lines)
    title_tag = soup.find("title")
    title = title_tag.get_text(strip=True) if title_tag else _first_heading(body)
    data = {
        "id": meta("copilot-id"),
        "client": meta("copilot-client"),
        "language": meta("copilot-language") or (str(lang)[:2].lower() if lang else None),
        "tags": meta("keywords"),
    }
    return Parsed([_doc(path, data, body, title or path.stem)])


def parse_pdf(path: Path, raw: bytes) -> Parsed:
    """A PDF with a text layer; its document info gives title, keywords and the Copilot* keys."""
    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise IngestError(str(path), "encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        info: dict[str, Any] = dict(reader.metadata or {})
    except PdfReadError as exc:
        raise IngestError(str(path), f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise IngestError(str(path), "PDF has no text layer (scanned image?)")
    data = {
        "id": info.get("/CopilotId"),
        "client": info.get("/CopilotClient"),
        "language": info.get("/CopilotLanguage"),
        "tags": info.get("/Keywords"),
    }
    title = info.get("/Title") or text.strip().splitlines()[0]
    return Parsed([_doc(path, data, text, str(title))])


def parse_csv(path: Path, raw: bytes) -> Parsed:
    """A question/answer FAQ: one document a row; a malformed row is reported and skipped."""
    reader = csv.DictReader(io.StringIO(_decode(path, raw), newline=""))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not {"question", "answer"} <= columns:
        raise IngestError(str(path), "CSV needs 'question' and 'answer' columns")
    out = Parsed()
    for row_no, row in enumerate(reader, start=2):
        clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if None in row or not clean.get("question") or not clean.get("answer"):
            out.problems.append(FileProblem(f"{path}:{row_no}", "malformed FAQ row skipped"))
            continue
        clean.setdefault("id", "")
        clean["id"] = clean["id"] or f"{slugify(path.stem)}-{row_no - 1}"
        text = f"# {clean['question']}\n\n{clean['answer']}"
        try:
            out.documents.append(_doc(path, clean, text, clean.get("title") or clean["question"]))
        except IngestError as exc:
            out.problems.append(FileProblem(f"{path}:{row_no}", exc.reason))
    return out


def parse_jsonl(path: Path, raw: bytes) -> Parsed:
    """One JSON document a line (``id``, ``title``, ``text``, optional metadata); ids are kept."""
    out = Parsed()
    for line_no, line in enumerate(_decode(path, raw).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or not obj.get("text"):
                raise ValueError("needs an object with 'text'")
            text = str(obj["text"])
            title = str(obj.get("title") or _first_heading(text) or obj.get("id") or path.stem)
            if obj.get("id") is None:
                obj["id"] = f"{slugify(path.stem)}-{line_no}"
            out.documents.append(_doc(path, obj, text, title))
        except (ValueError, IngestError) as exc:
            reason = exc.reason if isinstance(exc, IngestError) else str(exc)
            out.problems.append(FileProblem(f"{path}:{line_no}", f"line skipped: {reason}"))
    return out


PARSERS: dict[str, Callable[[Path, bytes], Parsed]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".csv": parse_csv,
    ".jsonl": parse_jsonl,
}
