"""The panel in a 360 px column, by keyboard only, in the agent's language."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

_UNNAMED_CONTROLS = """() => [...document.querySelectorAll("button, input, select, textarea, a")]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => !(el.getAttribute("aria-label") || el.textContent.trim()
        || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label")))
    .map((el) => el.outerHTML.slice(0, 80))"""


AXE = files("axe_playwright_python") / "axe.min.js"
"""axe-core, as the axe-playwright-python package ships it."""


def _axe_violations(page: Page) -> list[dict[str, Any]]:
    """WCAG 2.x A and AA violations axe-core finds in the page as it is now (contrast included)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # by the driver: the pages' CSP allows no inline
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ["wcag2a", "wcag2aa", "wcag21aa"]}))
            .violations.map((v) => ({id: v.id, impact: v.impact,
                                     nodes: v.nodes.map((n) => n.target.join(" "))}))"""
    )
    return found


def _customer_turn(server: LiveServer, conversation: str, text: str) -> None:
    body = {"turn_id": "c1", "speaker": "customer", "text": text, "client": "bank"}
    url = f"{server.url}/v1/conversations/{conversation}/turns"
    assert httpx.post(url, json=body, timeout=30.0).status_code == 200


def test_panel_fits_360px_and_works_by_keyboard_alone(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/panel?conversation=e2e-narrow&client=bank&lang=pt")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    assert page.evaluate("document.documentElement.lang") == "pt"
    _customer_turn(live_server, "e2e-narrow", "me robaron la tarjeta oro, ¿qué hago?")
    card = page.get_by_test_id("suggestion").first
    expect(card.get_by_test_id("accept")).to_contain_text("Aceitar")
    expect(card.get_by_test_id("suggestion-kind")).to_have_text("Base de conhecimento")
    card.get_by_test_id("evidence").locator("summary").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate(_UNNAMED_CONTROLS) == []
    page.screenshot(path=artifacts / "panel-360.png", full_page=True)

    page.locator("body").focus()
    accept = card.get_by_test_id("accept")
    for _ in range(30):
        page.keyboard.press("Tab")
        if accept.evaluate("(el) => el === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the accept button")
    page.keyboard.press("Enter")
    expect(card).to_have_attribute("data-action", "accepted")


def test_browser_language_picks_the_interface_language(
    browser: Browser, live_server: LiveServer
) -> None:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        page = context.new_page()
        page.goto("/panel?conversation=e2e-english")
        expect(page.get_by_test_id("connection-state")).to_have_text("Connected")
        expect(page.locator("#search-heading")).to_have_text("Search the knowledge base")
    finally:
        context.close()


def test_panel_and_demo_pass_an_automated_accessibility_audit(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/panel?conversation=e2e-axe&client=bank&lang=es")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    _customer_turn(live_server, "e2e-axe", "me robaron la tarjeta oro, ¿qué hago?")
    card = page.get_by_test_id("suggestion").first
    card.get_by_test_id("evidence").locator("summary").click()
    card.get_by_test_id("reject").click()
    assert _axe_violations(page) == []
    page.get_by_test_id("reject-reason").press("Enter")
    expect(card).to_have_attribute("data-delivery", "sent")
    assert _axe_violations(page) == []

    page.goto("/demo?client=bank&conversation=e2e-axe-demo")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    assert _axe_violations(page) == []
