"""Counts read right in each language, a card's state says what happened, the bar stays one line."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, Response, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def _frame(page: Page, turn_id: str, n: int) -> None:
    """Feed a `suggestions` frame of ``n`` cards, as if it came over the socket."""
    page.evaluate(
        """([turnId, n]) => window.copilotPanel.frame({type: "suggestions",
        conversation_id: "x", turn_id: turnId, language: "es", kb_gap: false, latency_ms: 1,
        suggestions: Array.from({length: n}, (_, i) => ({id: `${turnId}-s${i}`,
        text: `Respuesta ${i + 1}.`, kind: "grounded", confidence: 0.8, language: "es",
        evidence: [], origin: null}))})""",
        [turn_id, n],
    )


@pytest.mark.parametrize(
    ("lang", "one", "two"),
    [
        ("es", "1 sugerencia nueva", "2 sugerencias nuevas"),
        ("pt", "1 sugestão nova", "2 sugestões novas"),
        ("en", "1 new suggestion", "2 new suggestions"),
    ],
)
def test_announcements_use_the_languages_plural_forms(
    page: Page, lang: str, one: str, two: str
) -> None:
    page.goto(f"/panel?conversation=e2e-plural-{lang}&lang={lang}")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    _frame(page, "p1", 1)
    expect(page.get_by_test_id("announce")).to_have_text(one)
    _frame(page, "p2", 2)
    expect(page.get_by_test_id("announce")).to_have_text(two)


def test_queued_count_and_rejected_state_read_right(page: Page, live_server: LiveServer) -> None:
    conversation = "e2e-wording"
    page.goto(f"/panel?conversation={conversation}&client=bank&lang=es")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    body = {
        "turn_id": "c1",
        "speaker": "customer",
        "text": "me robaron la tarjeta oro, ¿qué hago?",
        "client": "bank",
    }
    url = f"{live_server.url}/v1/conversations/{conversation}/turns"
    assert httpx.post(url, json=body, timeout=30.0).status_code == 200
    card = page.get_by_test_id("suggestion").first
    expect(card).to_be_visible()

    # Offline: the queued count reads "1 acción", not "1 acción(es)". The browser is taken offline
    # (no retry runs meanwhile), so the action stays queued however slow the machine is.
    page.context.set_offline(True)
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "offline")
    card.get_by_test_id("reject").click()
    card.get_by_test_id("reject-reason").fill("no aplica")
    card.get_by_test_id("confirm-reject").click()
    expect(page.get_by_test_id("queue-count")).to_have_text("1 acción en cola")
    page.context.set_offline(False)
    expect(card).to_have_attribute("data-delivery", "sent")

    # A rejected card says the rejection was recorded (not "sent"), in the danger colour.
    status = card.get_by_test_id("suggestion-status")
    expect(status).to_have_text("Rechazada · registrada")
    colour = status.evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(180, 35, 24)"


@pytest.mark.parametrize("width", [360, 1366])
def test_header_stays_one_line_while_reconnecting(page: Page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto("/panel?conversation=e2e-header&lang=es")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    bar = page.locator("header.bar")
    connected = bar.bounding_box()
    assert connected is not None
    page.evaluate("window.copilotPanel.drop()")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "reconnecting")
    expect(page.get_by_role("button", name="Reintentar ahora")).to_be_visible()
    expect(page.get_by_test_id("connection-state")).to_contain_text("reintento")
    reconnecting = bar.bounding_box()
    assert reconnecting is not None
    assert reconnecting["height"] == connected["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_pages_link_a_favicon_that_is_served(page: Page, live_server: LiveServer) -> None:
    missing: list[str] = []

    def on_response(response: Response) -> None:
        if response.status == 404:
            missing.append(response.url)

    page.on("response", on_response)
    for path in ("/panel?conversation=e2e-icon", "/panel/document?doc=bank-es-bloqueo", "/demo"):
        page.goto(path)
        href = page.locator("link[rel=icon]").get_attribute("href")
        assert href == "/static/favicon.svg"
        icon = live_server.get(href)
        assert icon.status_code == 200
        assert icon.headers["content-type"].startswith("image/svg+xml")
    page.wait_for_timeout(500)
    assert missing == []
