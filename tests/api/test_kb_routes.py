"""Manual KB search and the document view behind evidence links, over the real app and models."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from copilot.api.app import create_app
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import ApiKey, Settings

AGENT_KEY = "key-agent-kb-0123456789"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """KB routes never touch the log database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"


def test_search_returns_passages_best_first_with_document_links(client: TestClient) -> None:
    response = client.get("/v1/kb/search", params={"q": "me robaron la tarjeta", "client": "bank"})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "me robaron la tarjeta"
    results = body["results"]
    assert results[0]["doc_id"] == "bank-es-bloqueo"
    assert {r["client"] for r in results} == {"bank"}
    assert len({r["doc_id"] for r in results}) == len(results)  # one passage per document
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    top = results[0]
    assert top["url"] == "/v1/kb/documents/bank-es-bloqueo"
    assert top["source"].endswith("bank-es-bloqueo.md")
    assert top["title"]
    assert 0 < len(top["snippet"]) <= 400


def test_search_filters_by_language_and_caps_k(client: TestClient) -> None:
    pt = client.get("/v1/kb/search", params={"q": "devolução do produto", "language": "pt"})
    assert {r["language"] for r in pt.json()["results"]} == {"pt"}
    one = client.get("/v1/kb/search", params={"q": "roaming", "k": 1})
    assert len(one.json()["results"]) == 1


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "x", "k": 0}, {"q": "x", "k": 21}, {"q": "x", "language": "fr"}],
)
def test_search_refuses_bad_parameters(client: TestClient, params: dict[str, str | int]) -> None:
    assert client.get("/v1/kb/search", params=params).status_code == 422


def test_document_has_its_text_and_passages_in_reading_order(client: TestClient) -> None:
    response = client.get("/v1/kb/documents/bank-es-bloqueo")
    assert response.status_code == 200
    doc = response.json()
    assert doc["doc_id"] == "bank-es-bloqueo"
    assert doc["client"] == "bank"
    assert doc["source"].endswith("bank-es-bloqueo.md")
    assert "0800 100 200" in doc["text"]
    ordinals = [p["ordinal"] for p in doc["passages"]]
    assert ordinals
    assert ordinals == sorted(ordinals)
    search = client.get("/v1/kb/search", params={"q": "me robaron la tarjeta"}).json()
    cited = next(r for r in search["results"] if r["doc_id"] == "bank-es-bloqueo")
    assert cited["section"] in {p["section"] for p in doc["passages"]}


def test_unknown_document_is_404(client: TestClient) -> None:
    response = client.get("/v1/kb/documents/no-such-doc")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_document"


def test_kb_routes_need_a_key_when_access_is_not_open(
    service_settings: Settings, e5: Embedder, use_reranker: Reranker
) -> None:
    keyed = service_settings.model_copy(
        update={
            "open_access": False,
            "api_keys": [
                ApiKey.model_validate({"key": AGENT_KEY, "role": "agent", "agent_id": "a"})
            ],
        }
    )
    with TestClient(create_app(keyed, embedder=e5, reranker=use_reranker)) as client:
        params = {"q": "tarjeta"}
        assert client.get("/v1/kb/search", params=params).status_code == 401
        assert client.get("/v1/kb/documents/bank-es-bloqueo").status_code == 401
        auth = {"Authorization": f"Bearer {AGENT_KEY}"}
        assert client.get("/v1/kb/search", params=params, headers=auth).status_code == 200
        assert client.get("/v1/kb/documents/bank-es-bloqueo", headers=auth).status_code == 200
