"""Browser fixtures: the real service on a free port, and Debian's headless Chromium via Playwright.

The server is module-scoped: each test module gets its own data folder, so the logs (and the
supervisor console's counts) hold only what that module did. Chromium is ``/usr/bin/chromium``
(Debian's package; ``make system-deps`` installs it); when it is missing the browser tests are
skipped, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import Settings
from tests.conftest import DATA, MANIFEST
from tests.processes import free_port

CHROMIUM = Path(os.environ.get("COPILOT_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
"""Screenshots the tests save (git-ignored; CI may upload them)."""
_START_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class LiveServer:
    """A running service: where it listens and the settings it was built with."""

    url: str
    settings: Settings

    def get(self, path: str, **params: str) -> httpx.Response:
        """A GET against the server (no credentials: the test server runs in open access)."""
        return httpx.get(self.url + path, params=params, timeout=10.0)


def settings_for_live_server(root: Path, **overrides: Any) -> Settings:
    """Settings for a server under ``root``: the tiny test KB, SQLite, open access unless
    ``overrides`` say otherwise (a module can override ``live_settings`` with this)."""
    sources = root / "sources"
    shutil.copytree(DATA / "kb", sources)
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "models_manifest": MANIFEST,
        "kb_source_dir": sources,
        "ingest_demo_on_start": True,
        "database_url": f"sqlite+aiosqlite:///{root / 'copilot.sqlite'}",
        "open_access": True,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="module")
def live_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the module's server: the tiny test KB, SQLite, open access (no keys)."""
    return settings_for_live_server(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def live_server(
    live_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free port, in a background thread, until the module ends."""
    port = free_port()
    app = create_app(live_settings, embedder=e5, reranker=use_reranker)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=live_settings.max_frame_bytes * 4,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"live server on port {port} did not become ready")
        time.sleep(0.2)
    yield LiveServer(url, live_settings)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's driver (it drives the system Chromium; no browser is downloaded).

    Per module, not per session: the sync API keeps an event loop running in the main thread
    while it is open, which would break the asyncio tests collected after the browser tests.
    """
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or make system-deps)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """One headless Chromium per test module."""
    launched = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=["--no-sandbox", "--disable-dev-shm-usage"],  # root in a container
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile (empty localStorage) per test, with the server as base URL."""
    ctx = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1200, "height": 900},
        locale="es-ES",
    )
    ctx.set_default_timeout(15_000)
    # Assertions wait as long as actions do: on a loaded CI box a page's data can take over
    # Playwright's default 5 s (the console's gap grouping embeds up to 500 turns per request).
    expect.set_options(timeout=15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page whose uncaught script errors and Content-Security-Policy violations fail the test."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            errors.append(message.text)

    tab.on("console", on_console)
    yield tab
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """The folder for screenshots (created on first use)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
