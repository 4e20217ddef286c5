"""The panel with API keys: the token leaves the address bar, the agent id comes from /v1/me."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from copilot.settings import ApiKey, Settings
from tests.e2e.conftest import LiveServer, settings_for_live_server

pytestmark = pytest.mark.e2e

AGENT_KEY = "key-agent-e2e-ana-0123456789"


@pytest.fixture(scope="module")
def live_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """This module's server checks keys: one agent, ``ana``."""
    key = ApiKey.model_validate({"key": AGENT_KEY, "role": "agent", "agent_id": "ana"})
    return settings_for_live_server(
        tmp_path_factory.mktemp("keyed"), open_access=False, api_keys=[key]
    )


def test_panel_with_an_agent_key_acts_as_that_agent(page: Page, live_server: LiveServer) -> None:
    conversation = "e2e-auth-1"
    page.goto(f"/panel?conversation={conversation}&client=bank&token={AGENT_KEY}")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    assert "token" not in page.url
    assert page.evaluate("sessionStorage.getItem('copilot:token')") == AGENT_KEY

    auth = {"Authorization": f"Bearer {AGENT_KEY}"}
    body = {
        "turn_id": "c1",
        "speaker": "customer",
        "text": "me robaron la tarjeta",
        "agent_id": "ana",
    }
    url = f"{live_server.url}/v1/conversations/{conversation}"
    assert httpx.post(f"{url}/turns", json=body, headers=auth, timeout=30).status_code == 200
    card = page.get_by_test_id("suggestion").first
    card.get_by_test_id("accept").click()
    expect(card).to_have_attribute("data-delivery", "sent")
    feedback = httpx.get(url, headers=auth, timeout=10).json()["feedback"]
    assert [(f["agent_id"], f["action"]) for f in feedback] == [("ana", "accepted")]

    page.get_by_test_id("search-input").fill("tarjeta robada")
    page.get_by_test_id("search-input").press("Enter")
    expect(page.get_by_test_id("search-result").first).to_be_visible()


def test_panel_with_a_wrong_key_says_access_is_denied(page: Page, live_server: LiveServer) -> None:
    page.goto("/panel?conversation=e2e-auth-2&token=not-a-key-0123456789")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "denied")
