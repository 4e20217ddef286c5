"""A reference card (evidence only): the passage's language in the agent's, and nothing to send."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

CONVERSATION = "e2e-reference"
QUESTION = "¿cuánto cuesta el roaming con el Plan Básico?"


def test_reference_card_names_the_passage_language_and_offers_no_accept(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    page.goto(f"/panel?conversation={CONVERSATION}&client=telecom&lang=en")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    body = {"turn_id": "c1", "speaker": "customer", "text": QUESTION, "client": "telecom"}
    url = f"{live_server.url}/v1/conversations/{CONVERSATION}/turns"
    assert httpx.post(url, json=body, timeout=30.0).status_code == 200

    card = page.locator("[data-testid=suggestion][data-kind=reference]")
    expect(card).to_have_count(1)
    expect(card.get_by_test_id("suggestion-kind")).to_have_text("Reference")
    expect(card.get_by_test_id("reference-note")).to_have_text(
        "Passage in English: no reply drafted in the customer's language."
    )
    expect(card.get_by_test_id("accept")).to_have_count(0)
    expect(card.get_by_test_id("edit")).to_have_count(0)
    expect(card.get_by_test_id("suggestion-text")).to_have_count(0)
    english = card.get_by_test_id("evidence-item").filter(
        has=page.locator("[href*='doc=tel-en-roaming-basico']")
    )
    expect(english.get_by_test_id("evidence-language")).to_be_visible()  # open, not folded
    expect(english.get_by_test_id("evidence-language")).to_have_text("Passage language: English")
    card.screenshot(path=artifacts / "panel-reference.png")

    # Alt+N on the reference's position sends nothing.
    page.locator("main").click()
    page.keyboard.press(f"Alt+{card.get_attribute('data-n')}")
    expect(card).to_have_attribute("data-action", "")
    card.get_by_test_id("reject").click()
    card.get_by_test_id("confirm-reject").click()
    expect(card).to_have_attribute("data-action", "rejected")
    expect(card).to_have_attribute("data-delivery", "sent")
    log = live_server.get(f"/v1/conversations/{CONVERSATION}").json()
    assert [f["action"] for f in log["feedback"]] == ["rejected"]

    # The same card in Spanish: the language named in the interface language.
    page.goto(f"/panel?conversation={CONVERSATION}&client=telecom&lang=es")
    card = page.locator("[data-testid=suggestion][data-kind=reference]")
    expect(card.get_by_test_id("reference-note")).to_have_text(
        "Pasaje en inglés: no se redactó respuesta en el idioma del cliente."
    )
    expect(card.get_by_test_id("evidence-language").first).to_have_text("Idioma del pasaje: inglés")
