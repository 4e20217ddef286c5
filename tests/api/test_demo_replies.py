"""Replies an agent can send, on real demo articles over the WebSocket with the real models.

The Conecta 15 article keeps an internal note about offering another plan: it must reach the
agent as evidence but never the customer's draft. A Portuguese question must get a Portuguese draft
or none, never a Portuguese frame around Spanish sentences.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.settings import Settings
from copilot.suggest.audience import is_for_agent
from copilot.suggest.sentences import plain_sentences
from tests.conftest import MANIFEST, REPO

DEMO = REPO / "knowledge_base" / "demo"


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory: pytest.TempPathFactory, e5: Embedder) -> Iterator[TestClient]:
    """The service on the retail demo articles plus the Conecta 15 roaming article."""
    root = tmp_path_factory.mktemp("demo-replies")
    sources = root / "kb"
    shutil.copytree(DEMO / "retail", sources / "retail")
    (sources / "telecom").mkdir()
    for name in (
        "_defaults.yaml",
        "tel-es-roaming-conecta15.md",
        "tel-pt-roaming-recarga-facil.md",
    ):
        shutil.copy(DEMO / "telecom" / name, sources / "telecom" / name)
    settings = Settings(
        data_dir=root / "data",
        models_manifest=MANIFEST,
        kb_source_dir=sources,
        ingest_demo_on_start=True,
        database_url=f"sqlite+aiosqlite:///{root / 'copilot.sqlite'}",
        open_access=True,
        _env_file=None,
    )
    with TestClient(create_app(settings, embedder=e5)) as client:
        yield client


def _ask(client: TestClient, conversation: str, app_client: str, text: str) -> dict[str, Any]:
    ws: WebSocketTestSession
    with client.websocket_connect(f"/v1/conversations/{conversation}/stream") as ws:
        ws.send_json({"type": "start", "agent_id": "agent-1", "client": app_client})
        assert ws.receive_json()["detail"] == "started"
        ws.send_json({"type": "turn", "turn_id": "t1", "speaker": "customer", "text": text})
        reply: dict[str, Any] = ws.receive_json()
    assert reply["type"] == "suggestions", reply
    return reply


def test_roaming_question_gets_no_sentence_meant_for_the_agent(demo_client: TestClient) -> None:
    reply = _ask(
        demo_client,
        "demo-roaming",
        "telecom",
        "Tengo el Plan Conecta 15 y viajo a Lima la semana que viene, ¿cómo activo el roaming?",
    )
    suggestions = reply["suggestions"]
    evidence = {e["doc_id"] for s in suggestions for e in s["evidence"]}
    assert "tel-es-roaming-conecta15" in evidence
    drafts = [s for s in suggestions if s["kind"] == "grounded"]
    assert drafts, suggestions
    for draft in drafts:
        assert "cliente" not in draft["text"].lower()
        assert not [s for s in plain_sentences(draft["text"], "es") if is_for_agent(s, "es")]


def test_portuguese_return_question_gets_a_portuguese_draft_or_none(
    demo_client: TestClient, detector: LanguageDetector
) -> None:
    reply = _ask(demo_client, "demo-return", "retail", "Quero devolver um tênis com defeito")
    for suggestion in reply["suggestions"]:
        if suggestion["kind"] in {"grounded", "clarify", "memory"}:
            assert suggestion["language"] == "pt"
            for sentence in plain_sentences(suggestion["text"], "pt"):
                if len(sentence.split()) >= 4:  # long enough for a reliable language guess
                    assert detector.detect(sentence) in {"pt", None}, sentence
