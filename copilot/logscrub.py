"""Log scrubbing: every log record is cleaned of secrets and conversation ids as it is created.

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
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from copilot.errors import ConfigError

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
CONVERSATION_TAG = re.compile(r"conv-[0-9a-f]{12}")
"""A hashed conversation id, as `LogScrubber.conversation_tag` writes it."""
_ID_FIELD_BEFORE = re.compile(r"(?<![\w.-])conversation(?:_id)?=$", re.IGNORECASE)
"""A placeholder right after ``conversation_id=`` takes an id as a whole argument."""
_TEMPLATE = re.compile(r"\{[a-z_]+\}")
PAYLOAD_LOGGERS = frozenset({"aiosqlite", "asyncpg", "psycopg", "sqlalchemy", "websockets"})
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
        if value == REDACTED or CONVERSATION_TAG.fullmatch(value) or _TEMPLATE.fullmatch(value):
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
        if record.args and record.name.partition(".")[0] in PAYLOAD_LOGGERS:
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
            tagged[i] = arg if CONVERSATION_TAG.fullmatch(arg) else scrubber.conversation_tag(arg)
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
