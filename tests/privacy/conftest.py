"""The real app on the real small models (tests/api fixtures), over a SQLite file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import client, service_settings  # noqa: F401  (fixtures reused here)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The log database as a SQLite file, so that its bytes can be scanned."""
    return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"
