"""A weak link: feedback given while disconnected is queued in the browser, delivered once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def _open_panel(page: Page, conversation: str) -> Locator:
    page.goto(f"/panel?conversation={conversation}&client=bank&agent=agent-off&lang=en")
    state = page.get_by_test_id("connection-state")
    expect(state).to_have_attribute("data-state", "connected")
    return state


def _customer_turn(server: LiveServer, conversation: str, turn_id: str, text: str) -> None:
    """A customer turn pushed by the chat platform's webhook, as in production."""
    body = {"turn_id": turn_id, "speaker": "customer", "text": text, "client": "bank"}
    response = httpx.post(
        f"{server.url}/v1/conversations/{conversation}/turns", json=body, timeout=30.0
    )
    assert response.status_code == 200, response.text


def _feedback_rows(server: LiveServer, conversation: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = server.get(f"/v1/conversations/{conversation}").json()["feedback"]
    return rows


def _first_card(page: Page) -> tuple[Locator, str]:
    card = page.get_by_test_id("suggestion").first
    expect(card).to_be_visible()
    suggestion_id = card.get_attribute("data-suggestion-id")
    assert suggestion_id
    return card, suggestion_id


def test_feedback_given_offline_is_delivered_once_after_reconnect(
    page: Page, context: BrowserContext, live_server: LiveServer, artifacts: Path
) -> None:
    conversation = "e2e-offline-1"
    state = _open_panel(page, conversation)
    _customer_turn(live_server, conversation, "c1", "me robaron la tarjeta oro, ¿qué hago?")
    card, suggestion_id = _first_card(page)

    context.set_offline(True)
    expect(state).to_have_attribute("data-state", "offline")
    card.get_by_test_id("accept").click()
    expect(card).to_have_attribute("data-delivery", "queued")
    expect(page.get_by_test_id("queue-count")).to_have_attribute("data-count", "1")
    stored = page.evaluate(f"localStorage.getItem('copilot:feedback:{conversation}')")
    assert suggestion_id in json.loads(stored)
    page.screenshot(path=artifacts / "panel-offline.png")
    assert _feedback_rows(live_server, conversation) == []

    context.set_offline(False)
    expect(state).to_have_attribute("data-state", "connected")
    expect(card).to_have_attribute("data-delivery", "sent")
    expect(page.get_by_test_id("queue-count")).to_have_attribute("data-count", "0")
    assert page.evaluate(f"localStorage.getItem('copilot:feedback:{conversation}')") is None
    rows = _feedback_rows(live_server, conversation)
    assert [(r["suggestion_id"], r["action"]) for r in rows] == [(suggestion_id, "accepted")]


def test_feedback_resent_after_a_lost_ack_is_not_recorded_twice(
    page: Page, live_server: LiveServer
) -> None:
    conversation = "e2e-offline-2"
    _open_panel(page, conversation)
    _customer_turn(live_server, conversation, "c1", "¿cuánto tiempo tengo para disputar un cargo?")
    card, suggestion_id = _first_card(page)
    card.get_by_test_id("accept").click()
    expect(card).to_have_attribute("data-delivery", "sent")

    # The ack was lost on the way back: the item is still queued when the panel comes back.
    item = {
        "suggestion_id": suggestion_id,
        "action": "accepted",
        "final_text": "",
        "reason": None,
        "queued_at": "2026-01-01T00:00:00Z",
    }
    page.evaluate(
        "([key, item]) => localStorage.setItem(key, JSON.stringify({[item.suggestion_id]: item}))",
        [f"copilot:feedback:{conversation}", item],
    )
    page.reload()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("queue-count")).to_have_attribute("data-count", "0")
    card, _ = _first_card(page)
    expect(card).to_have_attribute("data-delivery", "sent")
    rows = _feedback_rows(live_server, conversation)
    assert [(r["suggestion_id"], r["action"]) for r in rows] == [(suggestion_id, "accepted")]


def test_a_dropped_link_reconnects_by_itself_and_delivers_what_was_queued(
    page: Page, live_server: LiveServer
) -> None:
    conversation = "e2e-offline-3"
    state = _open_panel(page, conversation)
    _customer_turn(live_server, conversation, "c1", "y la tarjeta nueva cuándo llega")
    card, suggestion_id = _first_card(page)

    # Drop the socket as a failing network would, and reject in the same tick: it must queue.
    delivery = page.evaluate(
        """() => {
            window.copilotPanel.drop();
            document.querySelector("[data-testid=reject]").click();
            document.querySelector("[data-testid=reject-reason]").value = "wrong card";
            document.querySelector("[data-testid=reject-form]").requestSubmit();
            return [document.querySelector("[data-testid=connection-state]").dataset.state,
                    document.querySelector("[data-testid=suggestion]").dataset.delivery];
        }"""
    )
    assert delivery == ["reconnecting", "queued"]
    expect(state).to_have_attribute("data-state", "connected")
    expect(card).to_have_attribute("data-delivery", "sent")
    rows = _feedback_rows(live_server, conversation)
    assert [(r["suggestion_id"], r["action"], r["reason"]) for r in rows] == [
        (suggestion_id, "rejected", "wrong card")
    ]
