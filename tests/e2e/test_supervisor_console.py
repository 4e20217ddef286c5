"""The supervisor console in Chromium: rates, charts, gaps, edit diffs, drill-down, export,
time zone, live refresh and layout on a 1366 px laptop (the browser runs in Mexico City time)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

FOOTBALL = ("¿quién ganó el partido de fútbol ayer?", "¿cómo quedó el partido de fútbol de anoche?")
EDITED = "Ya bloqueamos su Tarjeta Oro; la reposición llega en cinco días hábiles, sin costo."
_UNNAMED_CONTROLS = """() => [...document.querySelectorAll("button, input, select, a")]
    .filter((el) => el.offsetParent !== null)
    .filter((el) => !(el.getAttribute("aria-label") || el.textContent.trim()
        || (el.id && document.querySelector(`label[for="${el.id}"]`)) || el.closest("label")))
    .map((el) => el.outerHTML.slice(0, 80))"""


ZONE = "America/Mexico_City"
LAPTOP: ViewportSize = {"width": 1366, "height": 768}


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh profile on a 1366 px wide laptop whose clock is set to Mexico City."""
    ctx = browser.new_context(
        base_url=live_server.url, viewport=LAPTOP, locale="es-ES", timezone_id=ZONE
    )
    ctx.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    yield ctx
    ctx.close()


def _turn(server: LiveServer, conversation: str, text: str, agent: str) -> dict[str, Any]:
    body = {
        "turn_id": "t1",
        "speaker": "customer",
        "text": text,
        "client": "bank",
        "agent_id": agent,
    }
    url = f"{server.url}/v1/conversations/{conversation}/turns"
    response = httpx.post(url, json=body, timeout=30.0)
    assert response.status_code == 200, response.text
    reply: dict[str, Any] = response.json()
    return reply


def _feedback(server: LiveServer, conversation: str, sid: str, action: str, text: str = "") -> None:
    url = f"{server.url}/v1/conversations/{conversation}/feedback"
    body = {"suggestion_id": sid, "action": action, "final_text": text}
    assert httpx.post(url, json=body, timeout=10.0).json()["detail"] == "recorded"


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, str]:
    """One accepted, one edited and one rejected suggestion; two KB gaps about football."""
    first: dict[str, str] = {}
    for conversation, text, agent in (
        ("con-acc", "me robaron la tarjeta oro", "ana"),
        ("con-edit", "perdí mi tarjeta oro, ¿qué hago?", "ana"),
        ("con-rej", "¿pueden bloquear mi tarjeta oro?", "beto"),
        ("con-gap1", FOOTBALL[0], "beto"),
        ("con-gap2", FOOTBALL[1], "ana"),
    ):
        first[conversation] = _turn(live_server, conversation, text, agent)["suggestions"][0]["id"]
    _feedback(live_server, "con-acc", first["con-acc"], "accepted")
    _feedback(live_server, "con-edit", first["con-edit"], "edited", EDITED)
    _feedback(live_server, "con-rej", first["con-rej"], "rejected")
    return first


def _open(page: Page) -> None:
    page.goto("/supervisor?lang=es")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")


def test_console_shows_rates_charts_gaps_and_edits(
    page: Page, seeded: dict[str, str], artifacts: Path
) -> None:
    _open(page)
    for action in ("accepted", "edited", "rejected"):
        expect(page.get_by_test_id(f"rate-{action}")).to_have_text("33%")
        expect(page.get_by_test_id(f"count-{action}")).to_have_text("1")
    for chart in ("chart-rates", "chart-latency"):
        datasets = page.evaluate(
            "(id) => Chart.getChart(document.querySelector(`[data-testid=${id}]`))"
            ".data.datasets.length",
            chart,
        )
        assert datasets >= 3
    drawn = page.evaluate(
        "() => Chart.getChart(document.querySelector('[data-testid=chart-rates]'))"
        ".data.datasets.slice(0, 3).map((d) => d.data.reduce((a, b) => a + b, 0))"
    )
    assert drawn == [1, 1, 1]
    gaps = page.get_by_test_id("table-gaps")
    football = gaps.locator(".tabulator-row").filter(has_text="partido de fútbol")
    expect(football).to_have_count(1)
    expect(football.locator(".tabulator-cell").first).to_have_text("2")
    expect(gaps).to_contain_text("¿pueden bloquear mi tarjeta oro?")  # every verdict a rejection
    agents = page.get_by_test_id("table-agent")
    expect(agents.locator(".tabulator-row").filter(has_text="ana")).to_contain_text("50% (1)")
    expect(page.get_by_test_id("table-topic")).to_contain_text("tarjeta-oro")
    sent = page.get_by_test_id("diff-sent").first
    expect(sent).to_have_text(EDITED)
    assert sent.locator("ins").count() > 0
    assert page.get_by_test_id("diff-suggested").first.locator("del").count() > 0
    assert page.evaluate(_UNNAMED_CONTROLS) == []
    page.screenshot(path=artifacts / "supervisor.png", full_page=True)


def test_drill_down_refresh_and_export(
    page: Page, live_server: LiveServer, seeded: dict[str, str], artifacts: Path
) -> None:
    page.goto("/supervisor?lang=en&agent_id=ana")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("filter-agent")).to_have_value("ana")
    expect(page.get_by_test_id("rate-accepted")).to_have_text("50%")
    expect(page.get_by_test_id("rate-rejected")).to_have_text("0%")

    page.get_by_test_id("open-con-edit").click()
    drill = page.get_by_test_id("drill-down")
    expect(drill).to_be_visible()
    expect(drill.get_by_test_id("drill-turn")).to_have_count(1)
    expect(drill.get_by_test_id("drill-turn")).to_contain_text("perdí mi tarjeta oro")
    expect(drill.get_by_test_id("drill-action").first).to_have_text("Edited")
    expect(drill).to_contain_text(EDITED)
    drill.locator("summary").first.click()
    expect(drill.locator("details ul").first).to_contain_text("bank-es-bloqueo")
    drill.screenshot(path=artifacts / "supervisor-drill-down.png")

    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text("utf-8"))))
    assert {r["agent_id"] for r in rows} == {"ana"}
    assert {r["action"] for r in rows} >= {"accepted", "edited"}
    with page.expect_download() as json_info:
        page.get_by_test_id("export-json").click()
    exported = json.loads(Path(json_info.value.path()).read_text("utf-8"))
    assert len(exported) == len(rows)

    reply = _turn(live_server, "con-late", "me robaron la tarjeta oro otra vez", "ana")
    _feedback(live_server, "con-late", reply["suggestions"][0]["id"], "accepted")
    page.get_by_test_id("refresh").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("count-accepted")).to_have_text("2")
    expect(page.get_by_test_id("rate-accepted")).to_have_text("67%")


def test_group_tables_fit_a_1366px_screen_with_the_rejected_column_visible(
    page: Page, seeded: dict[str, str], artifacts: Path
) -> None:
    _open(page)
    assert page.viewport_size == LAPTOP
    for name in ("agent", "client", "topic", "language"):
        table = page.get_by_test_id(f"table-{name}")
        rejected = table.locator('.tabulator-col[tabulator-field="rejected_rate"]')
        expect(rejected).to_be_visible()
        box, frame = rejected.bounding_box(), table.bounding_box()
        assert box is not None
        assert frame is not None
        assert box["x"] >= frame["x"]
        assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, name
        assert box["x"] + box["width"] <= LAPTOP["width"], name
        holder = table.locator(".tabulator-tableholder")
        overflow = holder.evaluate("(el) => el.scrollWidth - el.clientWidth")
        assert overflow <= 1, f"{name} table scrolls sideways by {overflow} px"
    note = page.get_by_test_id("topic-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("primer documento que cita")
    page.get_by_test_id("table-topic").screenshot(path=artifacts / "supervisor-topic-1366.png")


def test_an_inverted_date_range_shows_the_servers_message(
    page: Page, seeded: dict[str, str]
) -> None:
    page.goto("/supervisor?lang=en")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.get_by_test_id("filter-since").fill("2026-03-02")
    page.get_by_test_id("filter-until").fill("2026-03-01")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "error")
    error = page.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_contain_text("'since' must be earlier than 'until'")
    expect(page.get_by_test_id("count-shown")).not_to_have_text("0")  # old figures stay


def test_days_are_cut_in_the_browsers_zone_or_the_one_chosen(
    page: Page, seeded: dict[str, str]
) -> None:
    with page.expect_request(re.compile(r"/v1/supervisor/rates\?.*group_by=overall")) as first:
        _open(page)
    assert "tz=America%2FMexico_City" in first.value.url
    expect(page.get_by_test_id("filter-tz")).to_have_value(ZONE)
    with page.expect_request(re.compile(r"/v1/supervisor/latency\?.*tz=Asia%2FTokyo")):
        page.get_by_test_id("filter-tz").select_option("Asia/Tokyo")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    assert "tz=Asia%2FTokyo" in page.url
    page.reload()
    expect(page.get_by_test_id("filter-tz")).to_have_value("Asia/Tokyo")


def test_live_view_shows_a_new_turn_without_a_reload_and_pauses_when_hidden(
    page: Page, live_server: LiveServer, seeded: dict[str, str]
) -> None:
    page.goto("/supervisor?lang=en&refresh_ms=400")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    page.evaluate("() => { window.sameDocument = true; }")
    conversations = page.get_by_test_id("table-conversations")
    expect(conversations).not_to_contain_text("con-live")
    _turn(live_server, "con-live", "me robaron la tarjeta oro en el metro", "beto")
    expect(conversations).to_contain_text("con-live")
    assert page.evaluate("() => window.sameDocument") is True  # refreshed in place

    hide = """(hidden) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    page.evaluate(hide, True)
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    paused = page.evaluate("() => document.body.dataset.loads")
    page.wait_for_timeout(1500)  # more than three intervals
    assert page.evaluate("() => document.body.dataset.loads") == paused
    page.evaluate(hide, False)
    expect(page.locator("body")).not_to_have_attribute("data-loads", paused)


def test_language_filter_lists_conversations_by_their_detected_language(
    page: Page, seeded: dict[str, str]
) -> None:
    page.goto("/supervisor?lang=en&language=es")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    conversations = page.get_by_test_id("table-conversations")
    row = conversations.locator(".tabulator-row").filter(has_text="con-acc")
    expect(row).to_have_count(1)
    expect(row.locator('.tabulator-cell[tabulator-field="language"]')).to_have_text("es")
    page.get_by_test_id("filter-language").select_option("pt")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    expect(conversations.locator(".tabulator-row")).to_have_count(0)
