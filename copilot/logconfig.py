"""Structured logging: one JSON object per line on stderr (or text lines for a console).

The formatter (python-json-logger) writes one JSON object per line: ``timestamp``, ``level``,
``logger``, ``event`` and the event's fields, split out of our ``event_name key=value ...`` lines
and taken from any ``extra={...}``; ``text`` lines are there for a console. Both mask personal data
(phones, e-mails, ...) with the privacy redactor: a second line of defence, not a licence to log
turn text. Secrets are removed earlier, when a record is created (`copilot.logscrub`).
"""

from __future__ import annotations

import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

import pythonjsonlogger.core
import pythonjsonlogger.json

from copilot.logscrub import CONVERSATION_TAG, PAYLOAD_LOGGERS, log_scrubber
from copilot.privacy.redact import Redactor

_NAME = r"[a-z][a-z0-9_]*"
_EVENT_LINE = re.compile(rf"(?P<event>{_NAME})(?P<fields>(?: {_NAME}=.*)?)", re.DOTALL)
"""Our log lines: a snake_case event name, then ``key=value`` fields (a value may hold spaces)."""
_FIELD = re.compile(rf" (?P<key>{_NAME})=(?P<value>.*?)(?= {_NAME}=|$)", re.DOTALL)
_CORE_KEYS = frozenset({"timestamp", "level", "logger", "event", "exc", "stack"})
_ACCESS_ARGS = ("client", "method", "path", "http_version", "status")
"""The arguments of uvicorn's access line, in order."""
_DROPPED_EXTRAS = frozenset({"color_message"})
"""uvicorn's ANSI-coloured copy of its format string: noise in a JSON line."""


def _typed(value: str) -> str | int | float | bool:
    # Counts and timings become JSON numbers, so a log pipeline can sum and compare them.
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return {"True": True, "False": False}.get(value, value)


def event_fields(line: str) -> tuple[str, dict[str, str | int | float | bool]]:
    """Split ``turn_handled session_id=… latency_ms=12`` into its event name and typed fields.

    A line of another shape (uvicorn's access lines, prose from a library) is all event.
    """
    match = _EVENT_LINE.fullmatch(line)
    if match is None:
        return line, {}
    pairs = [(m["key"], _typed(m["value"])) for m in _FIELD.finditer(match["fields"])]
    fields = dict(pairs)
    if len(fields) != len(pairs) or _CORE_KEYS & fields.keys():
        return line, {}  # a repeated or reserved name: keep the line whole rather than lose a part
    return match["event"], fields


class JsonFormatter(pythonjsonlogger.json.JsonFormatter):
    """One JSON object per record: timestamp, level, logger, event, its fields and exception text.

    The event line's ``key=value`` fields and any ``extra={...}`` become JSON fields; every
    string passes through the secret scrubber (a ``conversation_id`` extra is replaced by its
    tag) and a :class:`Redactor`: a second line of defence for personal data that a caller forgot
    to redact, not a licence to log turn text.
    """

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s",
            timestamp=True,
            json_ensure_ascii=False,
            reserved_attrs=[*pythonjsonlogger.core.RESERVED_ATTRS, *_DROPPED_EXTRAS],
        )
        self._redactor = Redactor()

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Fill ``log_data`` in a fixed order, scrubbed (called by ``format``)."""
        super().add_fields(log_data, record, message_dict)
        extras = {k: v for k, v in log_data.items() if k not in {"levelname", "name", "timestamp"}}
        extras.pop("exc_info", None)
        extras.pop("stack_info", None)
        if record.name.partition(".")[0] in PAYLOAD_LOGGERS:
            extras = {}  # a websocket or a connection object: its repr may carry ids
        event, fields = event_fields(self._clean(record.message))
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            fields = self._access_fields(record.args)
        log_data.clear()
        log_data["timestamp"] = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        log_data["event"] = event
        log_data.update(fields)
        for key, value in extras.items():
            if key not in _CORE_KEYS:
                log_data[key] = self._extra(key, value)
        # exc_text holds the scrubbed traceback the record factory rendered.
        exc = record.exc_text
        if not exc and record.exc_info:
            exc = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if exc:
            log_data["exc"] = self._clean(exc)
        if record.stack_info:
            log_data["stack"] = self._clean(record.stack_info)

    def _access_fields(self, args: tuple[object, ...]) -> dict[str, str | int | float | bool]:
        # uvicorn's access line keeps its arguments (scrubbed by the record factory): the line
        # stays the event, and method, path and status become fields a pipeline can filter on.
        if len(args) != len(_ACCESS_ARGS):
            return {}
        return {
            k: v if isinstance(v, int) else self._clean(str(v))
            for k, v in zip(_ACCESS_ARGS, args, strict=True)
        }

    def _clean(self, text: str) -> str:
        return self._redactor.redact(log_scrubber().scrub(text)).text

    def _extra(self, key: str, value: object) -> object:
        if key in {"conversation_id", "conversation"} and isinstance(value, str):
            if CONVERSATION_TAG.fullmatch(value):
                return value
            return log_scrubber().conversation_tag(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        return self._clean(value if isinstance(value, str) else str(value))


class TextFormatter(logging.Formatter):
    """Human-readable lines for a console (``COPILOT_LOG_FORMAT=text``), redacted like JSON."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redactor = Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The standard line (exception text included), with personal data masked."""
        return self._redactor.redact(super().format(record)).text


def configure_logging(level: int = logging.INFO, log_format: str = "json") -> None:
    """Send scrubbed log lines to stderr at ``level``; chatty third-party loggers stay at WARNING.

    ``log_format`` is ``json`` (one object per line, for a log pipeline) or ``text`` (a console).

    uvicorn's loggers lose any handler of their own and propagate here, so their access lines
    get the same format and scrubbing (``copilot serve`` runs uvicorn with ``log_config=None``).
    """
    log_scrubber()
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
    for name in ("faiss", "bm25s", "httpx", "sentence_transformers", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
