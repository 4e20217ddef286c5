"""Structured logging: one JSON object per line on stderr, every record scrubbed of secrets.

Scrubbing happens when a record is created (a wrapped ``LogRecordFactory``), not in one handler:
uvicorn's access and error lines, our own loggers, exception text and any handler a test or a
library adds (pytest's caplog included) all see the scrubbed record. It removes

- credentials: query parameters or fields named token, access_token, api_key, apikey, key,
  password or secret (any case), ``Authorization``/``X-API-Key`` values, ``Bearer`` tokens, and
  every configured API key wherever it appears (verbatim or percent-encoded), and the input
  values quoted by pydantic validation errors (a key too short to be accepted);
- conversation ids (a platform may use the customer's phone number): ``conversation_id=``
  fields, ``/conversations/<id>`` path segments and the error messages that name one are
  replaced by a salted hash, ``conv-`` + 12 hex digits, the same for one id on one install;
- the arguments of database-driver and ``websockets`` records (SQL parameters, frames), which
  only show at DEBUG and would carry ids and turn text.

The formatter (python-json-logger) writes one JSON object per line: ``timestamp``, ``level``,
``logger``, ``event`` and the event's fields, split out of our ``event_name key=value ...`` lines
and taken from any ``extra={...}``; ``text`` lines are there for a console. Both mask personal data
(phones, e-mails, ...) with the privacy redactor: a second line of defence, not a licence to log
turn text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pythonjsonlogger.core
import pythonjsonlogger.json

from copilot.errors import ConfigError
from copilot.privacy.redact import Redactor

REDACTED = "[REDACTED]"
"""What a removed secret reads as in a log line."""

# Separators are atomic: a value already ``[REDACTED]`` must not make a shorter separator match.
_SEP = r"(?P<sep>(?>[\"']?[ \t]*[:=][ \t]*(?:b?[\"'])?))"
_HEADER_SEP = _SEP.replace("[:=]", "[:=,]")  # also a header tuple: (b'authorization', b'…')
_VALUE = r"(?P<value>(?!\[REDACTED\])[^&#\s\"',;)}\]]+)"
_SECRET_FIELD = re.compile(
    r"(?<![\w.-])(?P<name>access_token|api[_-]?key|apikey|token|key|password|secret)"
    + _SEP
    + _VALUE,
    re.IGNORECASE,
)
_HEADER = re.compile(
    r"(?<![\w-])(?P<name>authorization|x-api-key)"
    + _HEADER_SEP
    + r"(?P<scheme>(?:bearer|basic|token)[ \t]+)?+"
    + _VALUE,
    re.IGNORECASE,
)
# pydantic's ValidationError text quotes the refused input: a too-short API key, or turn text.
_INPUT_VALUE = re.compile(r"(?P<name>\binput_value)(?P<sep>=)(?P<value>.*?)(?=, input_type=)")
_BEARER = re.compile(r"(?<![\w-])(?P<scheme>bearer[ \t]+)" + _VALUE, re.IGNORECASE)
_CONVERSATION_FIELD = re.compile(
    r"(?<![\w.-])(?P<name>conversation(?:_id)?)(?P<sep>=|[\"'][ \t]*:[ \t]*[\"']?)" + _VALUE,
    re.IGNORECASE,
)
_CONVERSATION_PATH = re.compile(r"(?P<name>/conversations/)(?P<value>[^/\s?#\"']+)")
# The messages of NotStartedError, UnknownConversationError and ForbiddenError name the id.
_CONVERSATION_PROSE = re.compile(
    r"(?P<name>\bconversation )(?P<value>\S+)(?= (?:belongs|has not|is logged))"
)
_TAG = re.compile(r"conv-[0-9a-f]{12}")
_ID_FIELD_BEFORE = re.compile(r"(?<![\w.-])conversation(?:_id)?=$", re.IGNORECASE)
"""A placeholder right after ``conversation_id=`` takes an id as a whole argument."""
_TEMPLATE = re.compile(r"\{[a-z_]+\}")
_PAYLOAD_LOGGERS = frozenset({"aiosqlite", "asyncpg", "psycopg", "sqlalchemy", "websockets"})
"""Libraries whose log arguments are payloads: SQL parameters and WebSocket frames hold raw
conversation ids and turn text, so their records keep the format string only."""
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")


class LogScrubber:
    """Removes credentials and hashes conversation ids in one log line (thread-safe to read)."""

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)
        self._keys: frozenset[str] = frozenset()
        self._known: re.Pattern[str] | None = None

    def protect(self, keys: Iterable[str]) -> None:
        """Also remove these values (API keys) wherever they appear, in any percent-encoding."""
        forms = {f for k in keys if k for f in (k, quote(k, safe=""), quote_plus(k))}
        merged = self._keys | forms
        if merged != self._keys:
            alternatives = "|".join(re.escape(f) for f in sorted(merged, key=len, reverse=True))
            # Case-insensitive so %2b and %2B both match; redacting more is harmless.
            self._known = re.compile(alternatives, re.IGNORECASE)
            self._keys = merged

    def use_salt(self, salt: bytes) -> None:
        """Hash conversation ids with ``salt`` (the install's), so tags are stable across runs."""
        self._salt = salt

    def conversation_tag(self, conversation_id: str) -> str:
        """The log-line stand-in for a conversation id: ``conv-`` + 12 hex of a salted SHA-256."""
        digest = hmac.new(self._salt, conversation_id.encode(), hashlib.sha256).hexdigest()
        return f"conv-{digest[:12]}"

    def scrub(self, text: str) -> str:
        """``text`` with credentials replaced by ``[REDACTED]`` and conversation ids by tags."""
        known = self._known
        if known is not None:
            text = known.sub(REDACTED, text)
        text = _HEADER.sub(_keep_name(_redact, scheme=True), text)
        text = _BEARER.sub(_keep_name(_redact, scheme=True, name=False, sep=False), text)
        text = _SECRET_FIELD.sub(_keep_name(_redact), text)
        text = _INPUT_VALUE.sub(_keep_name(_redact), text)
        text = _CONVERSATION_FIELD.sub(_keep_name(self._tag), text)
        text = _CONVERSATION_PATH.sub(_keep_name(self._tag, sep=False), text)
        return _CONVERSATION_PROSE.sub(_keep_name(self._tag, sep=False), text)

    def _tag(self, value: str) -> str:
        # Already a tag, or a route template such as ``{conversation_id}`` in a traceback.
        if value == REDACTED or _TAG.fullmatch(value) or _TEMPLATE.fullmatch(value):
            return value
        return self.conversation_tag(unquote(value))


def _redact(_: str) -> str:
    return REDACTED


def _keep_name(
    replace: Callable[[str], str], *, scheme: bool = False, name: bool = True, sep: bool = True
) -> Callable[[re.Match[str]], str]:
    # A re.sub callback that keeps the field name, separator and auth scheme around the value.
    def sub(match: re.Match[str]) -> str:
        kept = (match["name"] if name else "") + (match["sep"] if sep else "")
        if scheme:
            kept += match["scheme"] or ""
        return kept + replace(match["value"])

    return sub


class _ScrubbingRecordFactory:
    """Wraps the record factory: each record leaves it with scrubbed message and exception text."""

    def __init__(self, base: Callable[..., logging.LogRecord], scrubber: LogScrubber) -> None:
        self.base = base
        self.scrubber = scrubber

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        if record.args and record.name.partition(".")[0] in _PAYLOAD_LOGGERS:
            record.msg, record.args = _PLACEHOLDER.sub("…", str(record.msg)), ()
        record.args = _tag_id_arguments(record, self.scrubber)
        scrub = self.scrubber.scrub
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: logging reports it at emit time
            return record
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = _scrubbed_call(record, clean, scrub)
        if record.exc_info and record.exc_info[0] is not None:
            rendered = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = scrub(rendered)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record


def _tag_id_arguments(record: logging.LogRecord, scrubber: LogScrubber) -> Any:
    """The record's args with each ``conversation_id=%s`` argument replaced by its tag.

    Done before the line is rendered, so the whole id is hashed: an id holding a space, a quote or
    a comma would otherwise be cut where the rendered line's value pattern stops, and its tail
    would reach the log raw.
    """
    args = record.args
    if not isinstance(args, tuple) or not args or not isinstance(record.msg, str):
        return args
    placeholders = list(_PLACEHOLDER.finditer(record.msg))
    if len(placeholders) != len(args) or "%%" in record.msg:
        return args
    tagged = list(args)
    for i, match in enumerate(placeholders):
        arg = args[i]
        if isinstance(arg, str) and _ID_FIELD_BEFORE.search(record.msg, 0, match.start()):
            tagged[i] = arg if _TAG.fullmatch(arg) else scrubber.conversation_tag(arg)
    return tuple(tagged)


def _scrubbed_call(
    record: logging.LogRecord, clean: str, scrub: Callable[[str], str]
) -> tuple[object, Any]:
    """Message and args that render ``clean``: the args scrubbed one by one when that is enough
    (formatters such as uvicorn's AccessFormatter unpack them), else the line with no args."""
    if isinstance(record.args, tuple) and record.args:
        args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        try:
            if str(record.msg) % args == clean:
                return record.msg, args
        except (TypeError, ValueError):
            pass
    return clean, ()


def log_scrubber() -> LogScrubber:
    """The process's scrubber, installing the scrubbing record factory on first use."""
    factory = logging.getLogRecordFactory()
    if isinstance(factory, _ScrubbingRecordFactory):
        return factory.scrubber
    wrapped = _ScrubbingRecordFactory(factory, LogScrubber())
    logging.setLogRecordFactory(wrapped)
    return wrapped.scrubber


def install_salt(folder: Path) -> bytes:
    """The install's salt for conversation-id hashes: ``folder/log_salt``, created on first use.

    Raises:
        ConfigError: The folder cannot be created or the file read or written.
    """
    path = folder / "log_salt"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb") as fh:
                fh.write(secrets.token_bytes(16))
            path.chmod(0o600)
        except FileExistsError:
            pass
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot keep the log salt in {path}: {exc}") from exc


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
        if record.name.partition(".")[0] in _PAYLOAD_LOGGERS:
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
            return value if _TAG.fullmatch(value) else log_scrubber().conversation_tag(value)
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
