"""The CLI logs JSON by default and plain text when COPILOT_LOG_FORMAT=text."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.cli.main import app
from copilot.logconfig import JsonFormatter, TextFormatter
from tests.conftest import MANIFEST


@pytest.fixture
def root_handlers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_MODELS_MANIFEST", str(MANIFEST))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.usefixtures("root_handlers")
@pytest.mark.parametrize(("setting", "formatter"), [(None, JsonFormatter), ("text", TextFormatter)])
def test_the_log_format_setting_picks_the_formatter(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, formatter: type[logging.Formatter]
) -> None:
    if setting is None:
        monkeypatch.delenv("COPILOT_LOG_FORMAT", raising=False)
    else:
        monkeypatch.setenv("COPILOT_LOG_FORMAT", setting)
    result = CliRunner().invoke(app, ["kb", "list", "--json"])
    assert result.exit_code == 0, result.output
    (handler,) = logging.getLogger().handlers
    assert type(handler.formatter) is formatter
