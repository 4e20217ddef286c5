"""The first start in a browser: ``/demo`` opens at once as a starting page that shows the stage,
then turns into the demo by itself when the service is ready."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, expect

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.storage.db import upgrade
from tests.e2e.conftest import settings_for_live_server
from tests.processes import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def held_start(
    tmp_path: Path, e5: Embedder, use_reranker: Reranker, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, threading.Event]]:
    """A background-start server whose log database migration waits for the test's release."""
    release = threading.Event()

    def held(url: str) -> None:
        release.wait(60)
        upgrade(url)

    monkeypatch.setattr("copilot.api.startup.upgrade", held)
    settings = settings_for_live_server(tmp_path, background_start=True)
    port = free_port()
    app = create_app(settings, embedder=e5, reranker=use_reranker)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="starting-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/healthz", timeout=2.0)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "the port did not open"
            time.sleep(0.1)
    try:
        yield url, release
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=30)


def test_the_demo_is_a_starting_page_until_ready_then_the_demo(
    browser: Browser, held_start: tuple[str, threading.Event]
) -> None:
    url, release = held_start
    context = browser.new_context(base_url=url, locale="es-ES")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    try:
        page.goto("/demo")
        expect(page.get_by_test_id("starting-stage")).to_contain_text(
            "opening the log database", timeout=15_000
        )
        release.set()
        expect(page.get_by_test_id("demo-client")).to_be_visible(timeout=120_000)
        expect(page.get_by_test_id("starting")).to_have_count(0)
    finally:
        context.close()
    assert not errors, errors
