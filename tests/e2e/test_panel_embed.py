"""The embedding page drives the panel by postMessage (docs/embedding.md): allowed origins only."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import FrameLocator, Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
QUESTION = "me robaron la tarjeta oro, ¿qué hago?"


def _customer_turn(server: LiveServer, conversation: str, turn_id: str, text: str) -> None:
    body = {"turn_id": turn_id, "speaker": "customer", "text": text, "client": "bank"}
    url = f"{server.url}/v1/conversations/{conversation}/turns"
    assert httpx.post(url, json=body, timeout=30.0).status_code == 200


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def chat_tools() -> Iterator[tuple[str, str]]:
    """Two chat tools serving docs/examples/embed-host.html, each on its own origin (port).

    Real servers, not routed pages: Chromium refuses a routed (public) page's frame of 127.0.0.1.
    """
    handler = functools.partial(_Quiet, directory=str(EXAMPLES))
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed, other = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    yield allowed, other
    for server in servers:
        server.shutdown()
        server.server_close()


def _open(page: Page, host: str, panel_url: str) -> FrameLocator:
    page.goto(f"{host}/embed-host.html?panel={quote(panel_url, safe='')}")
    panel = page.frame_locator("#copilot")
    expect(panel.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    return panel


def _events(page: Page) -> list[dict[str, object]]:
    lines = page.locator("#log").inner_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_host_page_accepts_a_suggestion_and_gets_its_text(
    page: Page, live_server: LiveServer, chat_tools: tuple[str, str]
) -> None:
    host = chat_tools[0]
    conversation = "e2e-embed"
    panel_url = (
        f"{live_server.url}/panel?conversation={conversation}&client=bank&lang=es"
        f"&host_origin={host}"
    )
    panel = _open(page, host, panel_url)
    _customer_turn(live_server, conversation, "c1", QUESTION)
    card = panel.get_by_test_id("suggestion").first
    expect(card).to_be_visible()
    text = card.get_by_test_id("suggestion-text").inner_text()
    sid = card.get_attribute("data-suggestion-id")

    # The agent's cursor is in the chat tool, not the panel: a button there accepts suggestion 1.
    page.locator("#reply").click()
    page.get_by_role("button", name="Accept 1").click()
    expect(card).to_have_attribute("data-action", "accepted")
    expect(card).to_have_attribute("data-delivery", "sent")
    expect(page.locator("#reply")).to_have_value(text)
    events = _events(page)
    accepted = [e for e in events if e["type"] == "copilot:accepted"]
    assert accepted == [
        {
            "type": "copilot:accepted",
            "suggestion_id": sid,
            "turn_id": "c1",
            "n": 1,
            "text": text,
            "original": text,
        }
    ]
    assert {"type": "copilot:result", "command": "copilot:accept", "ok": True} in events
    log = live_server.get(f"/v1/conversations/{conversation}").json()
    assert [(f["suggestion_id"], f["action"]) for f in log["feedback"]] == [(sid, "accepted")]

    # Alt+1 typed in the chat tool's input is forwarded (copilot:key) and accepts the next turn's 1.
    _customer_turn(live_server, conversation, "c2", "¿y cuándo llega la nueva tarjeta?")
    second = panel.locator(
        "[data-testid=suggestions][data-turn-id=c2] [data-testid=suggestion]"
    ).first
    expect(second).to_be_visible()
    page.locator("#reply").fill("")
    page.locator("#reply").press("Alt+1")
    expect(second).to_have_attribute("data-action", "accepted")
    expect(page.locator("#reply")).to_have_value(
        second.get_by_test_id("suggestion-text").inner_text()
    )
    log = live_server.get(f"/v1/conversations/{conversation}").json()
    assert len(log["feedback"]) == 2

    # Edit from the chat tool: the panel's editor opens; what the agent sends comes back edited.
    _customer_turn(live_server, conversation, "c3", "¿la reposición tiene costo?")
    third = panel.locator(
        "[data-testid=suggestions][data-turn-id=c3] [data-testid=suggestion]"
    ).first
    expect(third).to_be_visible()
    original = third.get_by_test_id("suggestion-text").inner_text()
    page.get_by_role("button", name="Edit 1 in the panel").click()
    editor = third.get_by_test_id("suggestion-editor")
    expect(editor).to_be_visible()
    editor.fill("La reposición no tiene costo.")
    editor.press("Enter")
    expect(third).to_have_attribute("data-action", "edited")
    expect(page.locator("#reply")).to_have_value("La reposición no tiene costo.")
    edited = [e for e in _events(page) if e["type"] == "copilot:edited"]
    assert [(e["text"], e["original"], e["turn_id"]) for e in edited] == [
        ("La reposición no tiene costo.", original, "c3")
    ]

    # A command the panel cannot carry out is answered, not silently dropped.
    page.evaluate(
        "document.getElementById('copilot').contentWindow.postMessage("
        "{type: 'copilot:accept', n: 9, id: 'q9'}, '*')"
    )
    expect(page.locator("#log")).to_contain_text('"id":"q9"')
    refused = [e for e in _events(page) if e.get("id") == "q9"]
    assert refused == [
        {
            "type": "copilot:result",
            "command": "copilot:accept",
            "ok": False,
            "reason": "no_suggestion",
            "id": "q9",
        }
    ]


def test_commands_from_another_origin_are_ignored(
    page: Page, live_server: LiveServer, chat_tools: tuple[str, str]
) -> None:
    allowed, other = chat_tools
    conversation = "e2e-embed-other"
    panel_url = (
        f"{live_server.url}/panel?conversation={conversation}&client=bank&lang=es"
        f"&host_origin={allowed}"
    )
    panel = _open(page, other, panel_url)
    _customer_turn(live_server, conversation, "c1", QUESTION)
    card = panel.get_by_test_id("suggestion").first
    expect(card).to_be_visible()

    page.get_by_role("button", name="Accept 1").click()
    page.locator("#reply").press("Alt+1")
    page.get_by_role("button", name="Reject 1").click()
    page.wait_for_timeout(1000)
    expect(card).to_have_attribute("data-action", "")
    assert page.locator("#reply").input_value() == ""
    assert not [e for e in _events(page) if e["type"] == "copilot:result"]
    log = live_server.get(f"/v1/conversations/{conversation}").json()
    assert log["feedback"] == []

    # The panel still works by hand: only the page's commands were refused.
    card.get_by_test_id("accept").click()
    expect(card).to_have_attribute("data-delivery", "sent")
