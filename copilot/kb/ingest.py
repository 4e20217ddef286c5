"""Read source files and folders into documents, reporting each bad file by name."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import yaml

from copilot.domain import Document, FileProblem, SourceFile
from copilot.errors import IngestError
from copilot.kb.formats import PARSERS, Parsed

logger = logging.getLogger(__name__)

LanguageGuess = Callable[[str], str | None]


DEFAULTS_FILE = "_defaults.yaml"
"""A file of that name gives ``client``, ``language`` and ``tags`` to the files below its folder."""


def _folder_defaults(folder: Path, cache: dict[Path, dict[str, object]]) -> dict[str, object]:
    if folder not in cache:
        path = folder / DEFAULTS_FILE
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
        except (OSError, yaml.YAMLError) as exc:
            raise IngestError(str(path), f"unreadable folder defaults: {exc}") from exc
        cache[folder] = loaded if isinstance(loaded, dict) else {}
    return cache[folder]


def _with_folder_defaults(
    src: SourceFile, path: Path, cache: dict[Path, dict[str, object]]
) -> SourceFile:
    """Fill what ``src`` leaves open from the ``_defaults.yaml`` files from its root to ``path``."""
    parts = path.parent.relative_to(src.path).parts
    merged: dict[str, object] = {}
    for depth in range(len(parts) + 1):  # root first, so the nearest folder wins
        merged.update(_folder_defaults(src.path.joinpath(*parts[:depth]), cache))
    tags = merged.get("tags") or ()
    return SourceFile(
        path=path,
        client=src.client or (str(merged["client"]) if merged.get("client") else None),
        language=src.language or (str(merged["language"]) if merged.get("language") else None),
        tags=src.tags or tuple(str(t) for t in (tags if isinstance(tags, list) else [tags])),
    )


def expand(sources: Iterable[SourceFile]) -> tuple[list[SourceFile], list[FileProblem]]:
    """List the files under each source, skipping hidden and ``_``-prefixed names in folders.

    Files found in a folder take ``client``, ``language`` and ``tags`` the source leaves open from
    the ``_defaults.yaml`` files of their folders (the nearest wins).

    Returns:
        The files in a stable order, and a problem for each path that does not exist or whose
        folder defaults cannot be read.
    """
    files: list[SourceFile] = []
    problems: list[FileProblem] = []
    cache: dict[Path, dict[str, object]] = {}
    for src in sources:
        if src.path.is_dir():
            for path in sorted(src.path.rglob("*")):
                rel = path.relative_to(src.path).parts
                if path.is_file() and not any(p.startswith((".", "_")) for p in rel):
                    try:
                        files.append(_with_folder_defaults(src, path, cache))
                    except IngestError as exc:
                        problems.append(FileProblem(exc.path, exc.reason))
        elif src.path.is_file():
            files.append(src)
        else:
            problems.append(FileProblem(str(src.path), "no such file or folder"))
    return files, problems


def read_file(src: SourceFile, max_bytes: int, guess_language: LanguageGuess) -> Parsed:
    """Parse one file and fill in client, language and tags the file does not give.

    Raises:
        IngestError: The file is unsupported, empty, oversized, unreadable or holds no document.
    """
    path = src.path
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise IngestError(str(path), f"unsupported format {path.suffix or '(no extension)'!r}")
    try:
        size = path.stat().st_size
        if size == 0:
            raise IngestError(str(path), "empty file")
        if size > max_bytes:
            raise IngestError(str(path), f"{size} bytes is over the limit of {max_bytes}")
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(str(path), f"unreadable: {exc.strerror or exc}") from exc
    parsed = parser(path, raw)
    if not parsed.documents and not parsed.problems:
        raise IngestError(str(path), "no document found")
    parsed.documents = [_with_defaults(d, src, guess_language) for d in parsed.documents]
    return parsed


def _with_defaults(doc: Document, src: SourceFile, guess_language: LanguageGuess) -> Document:
    language = doc.language or src.language or guess_language(f"{doc.title}\n{doc.text[:2000]}")
    return dataclasses.replace(
        doc,
        client=doc.client or src.client,
        language=language,
        tags=doc.tags or src.tags,
    )


def read_all(
    files: Sequence[SourceFile],
    max_bytes: int,
    guess_language: LanguageGuess,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Document], list[FileProblem]]:
    """Parse every file; a bad file becomes a problem and the rest goes on.

    ``on_progress(done, total)`` is called after each file.

    A document id seen twice keeps the first and reports the second, so one batch never fights
    itself.
    """
    problems: list[FileProblem] = []
    docs: list[Document] = []
    seen: dict[str, str] = {}
    for done, src in enumerate(files, start=1):
        try:
            parsed = read_file(src, max_bytes, guess_language)
        except IngestError as exc:
            logger.warning("ingest_file_skipped path=%s reason=%s", exc.path, exc.reason)
            problems.append(FileProblem(exc.path, exc.reason))
            parsed = Parsed()
        problems.extend(parsed.problems)
        for doc in parsed.documents:
            if doc.doc_id in seen:
                problems.append(
                    FileProblem(
                        str(src.path), f"duplicate id {doc.doc_id} (first in {seen[doc.doc_id]})"
                    )
                )
                continue
            seen[doc.doc_id] = str(src.path)
            docs.append(doc)
        if on_progress is not None:
            on_progress(done, len(files))
    return docs, problems
