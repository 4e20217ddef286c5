"""Voice calls in the panel: interim transcripts shown greyed, replaced by the final text."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def _transcript(utterance_id: str, text: str, *, final: bool) -> dict[str, Any]:
    return {
        "type": "transcript",
        "conversation_id": "e2e-voice",
        "utterance_id": utterance_id,
        "speaker": "customer",
        "text": text,
        "final": final,
        "start_s": 0.0,
        "end_s": 1.0,
    }


def test_interim_text_is_greyed_then_replaced_by_the_final_turn(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/panel?conversation=e2e-voice&client=bank")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    feed = "(frame) => window.copilotPanel.frame(frame)"
    page.evaluate(feed, _transcript("u1", "me robaron", final=False))
    turn = page.locator("[data-testid=turn][data-turn-id=u1]")
    expect(turn).to_have_class("turn turn-customer interim")
    page.evaluate(feed, _transcript("u1", "me robaron la tarjeta", final=False))
    expect(turn.get_by_test_id("turn-text")).to_have_text("me robaron la tarjeta")
    page.evaluate(feed, _transcript("u1", "me robaron la tarjeta oro", final=True))
    expect(turn).to_have_class("turn turn-customer")
    expect(turn.get_by_test_id("turn-text")).to_have_text("me robaron la tarjeta oro")
    page.evaluate(
        feed,
        {
            "type": "turn",
            "conversation_id": "e2e-voice",
            "turn_id": "u1",
            "speaker": "customer",
            "text": "me robaron la tarjeta oro",
            "at": "2026-01-01T00:00:00Z",
        },
    )
    expect(page.get_by_test_id("turn")).to_have_count(1)

    page.evaluate(feed, _transcript("u2", "eh", final=False))
    expect(page.get_by_test_id("turn")).to_have_count(2)
    page.evaluate(feed, _transcript("u2", "", final=True))  # noise: nothing was said
    expect(page.get_by_test_id("turn")).to_have_count(1)
