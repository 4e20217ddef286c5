"""Structured logging: one JSON object per line on stderr."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from copilot.privacy.redact import Redactor


class JsonFormatter(logging.Formatter):
    """Render a record as JSON with time, level, logger and the formatted event line.

    The event line and any exception text pass through a :class:`Redactor`: a second line of
    defence for personal data that a caller forgot to redact, not a licence to log turn text.
    """

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)
        self._redactor = Redactor()

    def format(self, record: logging.LogRecord) -> str:
        scrub = self._redactor.redact
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": scrub(record.getMessage()).text,
        }
        if record.exc_info:
            payload["exc"] = scrub(self.formatException(record.exc_info)).text
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    """Send JSON lines to stderr at ``level``; chatty third-party loggers stay at WARNING."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("faiss", "bm25s", "httpx", "sentence_transformers", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
