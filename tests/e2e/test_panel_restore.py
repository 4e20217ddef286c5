"""A reload brings back every turn's cards with their recorded state; older ones are read only."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

CONVERSATION = "e2e-restore"


def _customer_turn(server: LiveServer, turn_id: str, text: str) -> None:
    body = {"turn_id": turn_id, "speaker": "customer", "text": text, "client": "bank"}
    url = f"{server.url}/v1/conversations/{CONVERSATION}/turns"
    assert httpx.post(url, json=body, timeout=30.0).status_code == 200


def test_reload_restores_every_turns_cards_and_freezes_the_older_ones(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    page.goto(f"/panel?conversation={CONVERSATION}&client=bank&lang=es")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    _customer_turn(live_server, "c1", "me robaron la tarjeta oro, ¿qué hago?")
    first = page.locator("[data-testid=suggestions][data-turn-id=c1] [data-testid=suggestion]")
    expect(first.first).to_be_visible()
    card = first.first
    original = card.get_by_test_id("suggestion-text").inner_text()
    card.get_by_test_id("edit").click()
    card.get_by_test_id("suggestion-editor").fill("Bloqueamos su Tarjeta Oro ahora mismo.")
    card.get_by_test_id("suggestion-editor").press("Enter")
    expect(card).to_have_attribute("data-delivery", "sent")
    # An edited card shows what was sent and, struck through, what was suggested.
    expect(card.get_by_test_id("edited-text")).to_have_text(
        "Bloqueamos su Tarjeta Oro ahora mismo."
    )
    expect(card.get_by_test_id("original-text").locator("del")).to_have_text(original)

    _customer_turn(live_server, "c2", "¿cuándo llega la nueva tarjeta?")
    second = page.locator("[data-testid=suggestions][data-turn-id=c2] [data-testid=suggestion]")
    expect(second.first).to_be_visible()
    n_first, n_second = first.count(), second.count()
    # A later customer turn makes the earlier cards read only, live as after a reload.
    expect(first.first.get_by_test_id("accept")).to_be_hidden()

    page.reload()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    expect(first).to_have_count(n_first)
    expect(second).to_have_count(n_second)
    old = first.first
    expect(old).to_have_attribute("data-action", "edited")
    expect(old).to_have_class(re.compile(r"\bsuperseded\b"))
    expect(old.get_by_test_id("suggestion-status")).to_have_text("Editada · registrada")
    expect(old.get_by_test_id("edited-text")).to_have_text("Bloqueamos su Tarjeta Oro ahora mismo.")
    expect(old.get_by_test_id("original-text")).to_have_text(original)
    for name in ("accept", "edit", "reject"):
        expect(old.get_by_test_id(name)).to_be_hidden()
    expect(page.locator("[data-turn-id=c1] [data-testid=superseded-note]")).to_be_visible()
    if n_first > 1:
        expect(first.nth(1).get_by_test_id("suggestion-status")).to_have_text("Sin decisión")

    # The latest turn's cards stay live: Alt+1 accepts its first card, not the old turn's.
    latest = second.first
    expect(latest.get_by_test_id("accept")).to_be_enabled()
    page.locator("main").click()
    page.keyboard.press("Alt+1")
    expect(latest).to_have_attribute("data-action", "accepted")
    expect(latest).to_have_attribute("data-delivery", "sent")
    page.screenshot(path=artifacts / "panel-restored.png", full_page=True)
    log = live_server.get(f"/v1/conversations/{CONVERSATION}").json()
    assert sorted(f["action"] for f in log["feedback"]) == ["accepted", "edited"]
