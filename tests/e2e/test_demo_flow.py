"""The whole loop in a browser: the demo's customer chat, the agent panel, the supervisor view."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Locator, Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

CONVERSATION = "e2e-demo-1"
EDITED = "Puede disputar el cargo hasta 60 días después del resumen; le envío el formulario ahora."


def _ask(page: Page, panel: FrameLocator, text: str, n_blocks: int) -> Locator:
    """Send a customer message from the demo chat; returns the panel's suggestions for it."""
    page.get_by_test_id("demo-input").fill(text)
    page.get_by_test_id("demo-send").click()
    expect(page.get_by_test_id("demo-message-customer").last).to_contain_text(text)
    blocks = panel.get_by_test_id("suggestions")
    expect(blocks).to_have_count(n_blocks)
    block = blocks.last
    expect(block.get_by_test_id("suggestion").first).to_be_visible()
    return block


def _id(card: Locator) -> str:
    suggestion_id = card.get_attribute("data-suggestion-id")
    assert suggestion_id
    return suggestion_id


def _feedback(server: LiveServer) -> dict[str, dict[str, Any]]:
    log = server.get(f"/v1/conversations/{CONVERSATION}").json()
    return {f["suggestion_id"]: f for f in log["feedback"]}


def test_demo_customer_message_to_accept_edit_reject_and_console(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    page.goto(f"/demo?client=bank&conversation={CONVERSATION}&lang=es")
    panel = page.frame_locator("[data-testid=panel-frame]")
    expect(panel.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")

    # 1. A suggestion with its kind, confidence, language and evidence; accepted with Alt+1.
    first = _ask(page, panel, "me robaron la tarjeta oro, ¿qué hago?", 1)
    top = first.get_by_test_id("suggestion").first
    expect(top.get_by_test_id("suggestion-kind")).to_have_text("Base de conocimiento")
    expect(top.get_by_test_id("suggestion-confidence")).to_have_text(re.compile(r"^\d{1,3}%$"))
    expect(top.get_by_test_id("suggestion-language")).to_have_text("ES")
    expect(panel.get_by_test_id("turn").first).to_contain_text("me robaron la tarjeta oro")
    top.get_by_test_id("evidence").locator("summary").click()
    evidence = top.get_by_test_id("evidence-item").first
    expect(evidence).to_be_visible()
    expect(evidence.get_by_test_id("evidence-snippet").locator("mark").first).to_be_visible()
    expect(evidence.get_by_test_id("evidence-link")).to_have_attribute(
        "href", re.compile(r"^/panel/document\?doc=bank-es-bloqueo")
    )
    page.get_by_test_id("panel-frame").screenshot(path=artifacts / "panel.png")
    with page.context.expect_page() as opened:
        evidence.get_by_test_id("evidence-link").click()
    source = opened.value
    expect(source.locator("body")).to_have_attribute("data-ready", "1")
    expect(source.locator("h1")).to_have_text("Bloqueo de tarjeta por robo")
    expect(source.get_by_test_id("cited-section")).to_contain_text("Si le robaron la Tarjeta Oro")
    source.close()
    accepted_id = _id(top)
    accepted_text = top.get_by_test_id("suggestion-text").inner_text()
    panel.locator("main").click()  # focus in the panel, on no control: the shortcut is global
    page.keyboard.press("Alt+1")
    expect(top).to_have_attribute("data-action", "accepted")
    expect(top).to_have_attribute("data-delivery", "sent")
    expect(page.get_by_test_id("demo-message-agent").last).to_contain_text(accepted_text[:40])

    # 2. Edited in place, sent with Enter.
    second = _ask(page, panel, "¿cuánto tiempo tengo para disputar un cargo?", 2)
    card = second.get_by_test_id("suggestion").first
    edited_id = _id(card)
    card.get_by_test_id("edit").click()
    editor = card.get_by_test_id("suggestion-editor")
    expect(editor).to_be_focused()
    editor.fill(EDITED)
    editor.press("Enter")
    expect(card).to_have_attribute("data-action", "edited")
    expect(card).to_have_attribute("data-delivery", "sent")
    expect(page.get_by_test_id("demo-message-agent").last).to_contain_text(EDITED)

    # 3. Rejected with Esc and a reason.
    third = _ask(page, panel, "y la tarjeta nueva cuándo llega", 3)
    card = third.get_by_test_id("suggestion").first
    rejected_id = _id(card)
    panel.locator("main").click()
    page.keyboard.press("Escape")
    reason = card.get_by_test_id("reject-reason")
    expect(reason).to_be_focused()
    reason.fill("no responde la pregunta")
    reason.press("Enter")
    expect(card).to_have_attribute("data-action", "rejected")
    expect(card).to_have_attribute("data-delivery", "sent")
    page.screenshot(path=artifacts / "demo.png")

    by_id = _feedback(live_server)
    assert {k: v["action"] for k, v in by_id.items()} == {
        accepted_id: "accepted",
        edited_id: "edited",
        rejected_id: "rejected",
    }
    assert by_id[edited_id]["final_text"] == EDITED
    assert by_id[rejected_id]["reason"] == "no responde la pregunta"
    log = live_server.get(f"/v1/conversations/{CONVERSATION}").json()
    speakers = [t["speaker"] for t in log["turns"]]
    assert speakers == ["customer", "agent", "customer", "agent", "customer"]

    _check_console(page, artifacts)


def _check_console(page: Page, artifacts: Path) -> None:
    """The supervisor console counts the three actions of this module's only conversation."""
    page.goto("/supervisor")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("count-accepted")).to_have_text("1")
    expect(page.get_by_test_id("count-edited")).to_have_text("1")
    expect(page.get_by_test_id("count-rejected")).to_have_text("1")
    expect(page.get_by_test_id("rate-accepted")).to_contain_text("33%")
    page.screenshot(path=artifacts / "console.png", full_page=True)


def test_document_view_marks_the_cited_section_and_the_words(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/panel/document?doc=bank-es-bloqueo&section=Reposición&q=tarjeta+nueva")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("cited-section")).to_contain_text("La nueva tarjeta llega")
    expect(page.get_by_test_id("cited-section").locator("mark").first).to_have_text("nueva")
    page.goto("/panel/document?doc=no-such-doc")
    expect(page.locator("h1")).to_have_text("Documento no encontrado.")


def test_manual_kb_search_from_the_panel(page: Page, live_server: LiveServer) -> None:
    page.goto("/panel?conversation=e2e-search&client=bank&lang=en")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    page.get_by_test_id("search-input").fill("stolen card")
    page.get_by_test_id("search-input").press("Enter")
    results = page.get_by_test_id("search-result")
    expect(results.first).to_be_visible()
    expect(results.first.locator("a")).to_have_attribute("href", re.compile(r"doc=bank-es-"))
