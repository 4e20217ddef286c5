"""Why a suggestion was made, in the agent's language: origins, evidence, and the article itself."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from copilot.settings import Settings
from tests.e2e.conftest import LiveServer, settings_for_live_server

pytestmark = pytest.mark.e2e

QUESTION = "me robaron la tarjeta oro, ¿qué hago?"
LIMITS = """---
id: bank-es-limites
title: "Límites de la Tarjeta Oro"
language: es
client: bank
tags: [limites, tarjeta-oro]
entities: ["Tarjeta Oro"]
---
# Límites de la Tarjeta Oro

## Retiros en cajero
Los límites diarios de retiro de la Tarjeta Oro son:
- **Cajeros propios**: 2000 pesos por día.
- *Cajeros de otros bancos*: 1000 pesos por día.

Más detalles en [la página de tarifas](https://banco.example/tarifas) o [aquí](javascript:alert(1)).
Un texto con <script>alert("x")</script> se muestra tal cual.

## Compras en el exterior
1. Active el uso internacional en la app.
2. El límite de compras en el exterior es de 5000 pesos por mes.
"""


@pytest.fixture(scope="module")
def live_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The test KB plus an article written in Markdown (bullets, bold, italics, links)."""
    root = tmp_path_factory.mktemp("live")
    settings = settings_for_live_server(root)
    (root / "sources" / "bank-es-limites.md").write_text(LIMITS, encoding="utf-8")
    return settings


def _turn(server: LiveServer, conversation: str, text: str, **extra: str) -> dict[str, object]:
    body = {"turn_id": "c1", "speaker": "customer", "text": text, "client": "bank", **extra}
    url = f"{server.url}/v1/conversations/{conversation}/turns"
    response = httpx.post(url, json=body, timeout=30.0)
    assert response.status_code == 200, response.text
    reply: dict[str, object] = response.json()
    return reply


def test_team_memory_and_evidence_say_who_what_and_when_in_the_interface_language(
    page: Page, live_server: LiveServer
) -> None:
    first = _turn(live_server, "e2e-mem-1", QUESTION, agent_id="agent-ana")
    better = "Lamento lo ocurrido. Ya bloqueé su Tarjeta Oro; la nueva llega en cinco días hábiles."
    sid = first["suggestions"][0]["id"]  # type: ignore[index]
    feedback = {"suggestion_id": sid, "action": "edited", "final_text": better}
    url = f"{live_server.url}/v1/conversations/e2e-mem-1/feedback"
    assert httpx.post(url, json=feedback, timeout=30.0).status_code == 200

    page.goto("/panel?conversation=e2e-mem-2&client=bank&lang=pt")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    _turn(live_server, "e2e-mem-2", QUESTION)
    memory = page.locator("[data-testid=suggestion][data-kind=memory]")
    expect(memory).to_have_count(1)
    origin = memory.get_by_test_id("suggestion-origin")
    expect(origin).to_have_text(re.compile(r"^Resposta escrita por agent-ana em .*\d"))
    expect(origin).not_to_contain_text("team memory")
    expect(origin).not_to_contain_text("suggestion")

    grounded = page.locator("[data-testid=suggestion][data-kind=grounded]").first
    grounded.get_by_test_id("evidence").locator("> summary").click()
    item = grounded.get_by_test_id("evidence-item").first
    expect(item.get_by_test_id("evidence-title")).to_have_text(
        "Bloqueo de tarjeta por robo · Cómo bloquear"
    )
    expect(item.get_by_test_id("evidence-source")).to_have_text(
        "Fonte: Artigo (Markdown) · Abrir em outra aba"
    )
    expect(item).not_to_contain_text(".md")
    expect(item).not_to_contain_text("sources/")

    # A machine-translated draft names the passage's language in the interface language.
    page.evaluate(
        """window.copilotPanel.frame({type: "suggestions", conversation_id: "e2e-mem-2",
        turn_id: "c9", language: "pt", kb_gap: false, latency_ms: 1, suggestions: [
        {id: "x1", text: "Olá.", kind: "grounded", confidence: 0.8, language: "pt", evidence: [],
         origin: "kb passage in en, machine-translated"}]})"""
    )
    translated = page.locator("[data-suggestion-id=x1]").get_by_test_id("suggestion-origin")
    expect(translated).to_have_text("Trecho em inglês, traduzido automaticamente")


def test_articles_render_markdown_and_open_inside_the_panel(
    page: Page, live_server: LiveServer
) -> None:
    page.goto("/panel/document?doc=bank-es-limites&section=Compras en el exterior&lang=es")
    expect(page.locator("body")).to_have_attribute("data-ready", "1")
    body = page.locator("#body")
    expect(body.locator("ul > li")).to_have_count(2)
    expect(body.locator("ol > li")).to_have_count(2)
    expect(body.locator("strong")).to_have_text("Cajeros propios")
    expect(body.locator("em")).to_have_text("Cajeros de otros bancos")
    expect(body.locator("h3")).to_have_text(["Retiros en cajero", "Compras en el exterior"])
    expect(body.locator("a")).to_have_count(1)  # the javascript: link is left as text
    expect(body.locator("a")).to_have_attribute("href", "https://banco.example/tarifas")
    expect(body.locator("script")).to_have_count(0)
    expect(body).to_contain_text('<script>alert("x")</script>')
    text = body.inner_text()
    assert "**" not in text
    assert "- " not in text
    expect(page.get_by_test_id("cited-section")).to_contain_text("5000 pesos por mes")

    # The search box is in view without unfolding anything, and the article opens in the panel.
    page.goto("/panel?conversation=e2e-article&client=bank&lang=es")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("search-input")).to_be_visible()
    _turn(
        live_server,
        "e2e-article",
        "¿cuál es el límite de compras en el exterior de la tarjeta oro?",
    )
    card = page.get_by_test_id("suggestion").first
    card.get_by_test_id("evidence").locator("> summary").click()
    item = card.get_by_test_id("evidence-item").filter(
        has=page.locator("[href*='doc=bank-es-limites']")
    )
    item.first.get_by_test_id("doc-preview-toggle").click()
    preview = item.first.get_by_test_id("doc-preview-body")
    expect(preview).to_be_visible()
    expect(preview.locator("ul > li")).to_have_count(2)
    expect(preview.get_by_test_id("cited-section")).to_be_visible()
    expect(item.first.get_by_test_id("doc-preview-toggle")).to_have_attribute(
        "aria-expanded", "true"
    )
    assert page.url.startswith(live_server.url + "/panel?")  # not another tab
