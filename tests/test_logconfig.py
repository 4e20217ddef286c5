"""Log lines are JSON objects with structured fields; a console can ask for text instead."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from copilot.logconfig import JsonFormatter, TextFormatter, configure_logging, event_fields
from copilot.logscrub import REDACTED, log_scrubber


def _format(msg: str, *args: object, **extra: object) -> dict[str, object]:
    log_scrubber()  # records are scrubbed when created, as in the service
    logger = logging.getLogger("copilot.test")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, msg, args, None, extra=extra)
    payload: dict[str, object] = json.loads(JsonFormatter().format(record))
    return payload


def test_an_event_line_becomes_an_event_name_and_typed_fields() -> None:
    payload = _format("turn_handled latency_ms=%.1f n_passages=%d cached=%s", 12.5, 3, False)
    assert list(payload)[:4] == ["timestamp", "level", "logger", "event"]
    assert payload["level"] == "info"
    assert payload["logger"] == "copilot.test"
    assert str(payload["timestamp"]).endswith("+00:00")
    assert payload["event"] == "turn_handled"
    assert payload["latency_ms"] == 12.5
    assert payload["n_passages"] == 3
    assert payload["cached"] is False


def test_a_field_value_may_hold_spaces() -> None:
    assert event_fields("ingest_file_skipped path=a b.md reason=not a pdf") == (
        "ingest_file_skipped",
        {"path": "a b.md", "reason": "not a pdf"},
    )


def test_a_line_of_another_shape_stays_whole() -> None:
    line = '127.0.0.1:5000 - "GET /readyz HTTP/1.1" 200'
    assert event_fields(line) == (line, {})
    assert event_fields("open_access: every caller is admin") == (
        "open_access: every caller is admin",
        {},
    )
    assert event_fields("odd level=3") == ("odd level=3", {})  # a reserved name


def test_conversation_ids_are_hashed_in_fields_and_extras() -> None:
    tag = log_scrubber().conversation_tag("+5511 987654321")
    from_line = _format("conversation_started conversation_id=%s", "+5511 987654321")
    assert from_line["conversation_id"] == tag
    from_extra = _format("conversation_started", conversation_id="+5511 987654321")
    assert from_extra["conversation_id"] == tag


def test_extras_are_scrubbed_of_secrets_and_personal_data() -> None:
    payload = _format("auth_refused", header="Authorization: Bearer abcdef0123456789", who="a@b.co")
    assert payload["header"] == f"Authorization: Bearer {REDACTED}"
    assert payload["who"] == "[EMAIL]"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield io.StringIO()
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_configure_logging_picks_the_format(captured: io.StringIO, log_format: str) -> None:
    configure_logging(logging.INFO, log_format)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler.formatter, JsonFormatter if log_format == "json" else TextFormatter)
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured)
    logging.getLogger("copilot.test").info("kb_remove doc_id=%s", "faq-1")
    line = captured.getvalue().strip()
    if log_format == "json":
        assert json.loads(line)["doc_id"] == "faq-1"
    else:
        assert line.endswith("INFO copilot.test: kb_remove doc_id=faq-1")


def test_text_lines_are_redacted_too() -> None:
    record = logging.LogRecord(
        "copilot.test", logging.INFO, __file__, 1, "mail %s", ("a@b.co",), None
    )
    assert TextFormatter().format(record).endswith("mail [EMAIL]")


def test_an_access_line_stays_whole_and_gets_request_fields() -> None:
    log_scrubber()
    logger = logging.getLogger("uvicorn.access")
    args = ("127.0.0.1:5000", "GET", "/panel?token=abcdef0123456789", "1.1", 200)
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None
    )
    payload = json.loads(JsonFormatter().format(record))
    assert payload["event"] == f'127.0.0.1:5000 - "GET /panel?token={REDACTED} HTTP/1.1" 200'
    assert payload["method"] == "GET"
    assert payload["path"] == f"/panel?token={REDACTED}"
    assert payload["status"] == 200
