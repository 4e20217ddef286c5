"""Roles and keys: who may stream, post, read and report; and what listeners of a stream hear."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from copilot.api.app import create_app
from copilot.errors import ConfigError
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import ApiKey, Settings

AGENT_ANA = "key-agent-ana-0123456789"
AGENT_BETO = "key-agent-beto-012345678"
SUPERVISOR = "key-supervisor-012345678"
ADMIN = "key-admin-0123456789abcd"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def database_url(tmp_path: Any) -> str:
    """Access checks do not depend on the database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"


@pytest.fixture
def keyed(service_settings: Settings, e5: Embedder, use_reranker: Reranker) -> Iterator[TestClient]:
    """The app with four keys and open access off."""
    keys = [
        {"key": AGENT_ANA, "role": "agent", "agent_id": "ana"},
        {"key": AGENT_BETO, "role": "agent", "agent_id": "beto"},
        {"key": SUPERVISOR, "role": "supervisor", "name": "sara"},
        {"key": ADMIN, "role": "admin"},
    ]
    settings = service_settings.model_copy(
        update={"open_access": False, "api_keys": [ApiKey.model_validate(k) for k in keys]}
    )
    with TestClient(create_app(settings, embedder=e5, reranker=use_reranker)) as c:
        yield c


def _turn(client: TestClient, key: str, conversation: str, turn_id: str, **extra: Any) -> Any:
    body = {"turn_id": turn_id, "speaker": "customer", "text": "me robaron la tarjeta", **extra}
    return client.post(f"/v1/conversations/{conversation}/turns", json=body, headers=_bearer(key))


def test_no_keys_and_no_open_access_refuses_to_start(service_settings: Settings) -> None:
    closed = service_settings.model_copy(update={"open_access": False})
    with pytest.raises(ConfigError, match="COPILOT_API_KEYS"):
        create_app(closed)


def test_an_agent_key_needs_its_agent_id() -> None:
    with pytest.raises(ValidationError, match="agent_id"):
        ApiKey.model_validate({"key": AGENT_ANA, "role": "agent"})


def test_keys_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "COPILOT_API_KEYS", f'[{{"key": "{SUPERVISOR}", "role": "supervisor", "name": "sara"}}]'
    )
    settings = Settings(_env_file=None)
    assert [(k.role.value, k.name) for k in settings.api_keys] == [("supervisor", "sara")]
    assert SUPERVISOR not in repr(settings)  # the secret never shows in logs or tracebacks


def test_missing_or_unknown_keys_get_401(keyed: TestClient) -> None:
    missing = keyed.get("/v1/me")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json()["code"] == "unauthenticated"
    assert keyed.get("/v1/me", headers=_bearer("not-a-key-at-all-xxxx")).status_code == 401
    assert keyed.get("/v1/me", headers={"X-API-Key": SUPERVISOR}).json()["role"] == "supervisor"
    me = keyed.get("/v1/me", headers=_bearer(AGENT_ANA)).json()
    assert me == {"role": "agent", "agent_id": "ana", "name": None, "open_access": False}
    assert keyed.get("/healthz").status_code == 200  # probes need no key


def test_an_agent_works_only_on_its_own_conversations(keyed: TestClient) -> None:
    assert _turn(keyed, AGENT_ANA, "c-ana", "t1").json()["type"] == "suggestions"
    assert _turn(keyed, AGENT_ANA, "c-x", "t1", agent_id="beto").status_code == 403
    stolen = _turn(keyed, AGENT_BETO, "c-ana", "t2")
    assert (stolen.status_code, stolen.json()["code"]) == (403, "forbidden")
    assert keyed.get("/v1/conversations/c-ana", headers=_bearer(AGENT_BETO)).status_code == 403
    own = keyed.get("/v1/conversations/c-ana", headers=_bearer(AGENT_ANA))
    assert [t["turn_id"] for t in own.json()["turns"]] == ["t1"]
    assert keyed.post("/v1/conversations/c-ana/end", headers=_bearer(AGENT_BETO)).status_code == 403
    # An agent listing feedback or suggestions sees its own rows, whatever filter it asks for.
    _turn(keyed, AGENT_BETO, "c-beto", "t1")
    rows = keyed.get(
        "/v1/suggestions", params={"agent_id": "beto"}, headers=_bearer(AGENT_ANA)
    ).json()
    assert rows
    assert {r["conversation_id"] for r in rows} == {"c-ana"}
    everyone = keyed.get("/v1/suggestions", headers=_bearer(SUPERVISOR)).json()
    assert {r["conversation_id"] for r in everyone} == {"c-ana", "c-beto"}


def test_supervisor_reads_are_refused_to_agents(keyed: TestClient) -> None:
    denied = keyed.get("/v1/kb-gaps", headers=_bearer(AGENT_ANA))
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
    assert keyed.get("/v1/kb-gaps", headers=_bearer(SUPERVISOR)).status_code == 200
    assert keyed.get("/v1/kb-gaps", headers=_bearer(ADMIN)).status_code == 200


def test_stream_needs_a_key_and_keeps_agents_to_themselves(keyed: TestClient) -> None:
    with (
        keyed.websocket_connect("/v1/conversations/c-ws/stream") as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4401
    path = f"/v1/conversations/c-ws/stream?access_token={AGENT_ANA}"
    with keyed.websocket_connect(path) as ws:
        ws.send_json({"type": "start", "id": "s1", "agent_id": "beto"})
        refused = ws.receive_json()
        assert (refused["type"], refused["code"], refused["ref"]) == ("error", "forbidden", "s1")
        ws.send_json({"type": "start", "id": "s2", "agent_id": "ana"})
        assert ws.receive_json() == {"type": "ack", "ref": "s2", "detail": "started"}
    beto = f"/v1/conversations/c-ws/stream?access_token={AGENT_BETO}"
    with keyed.websocket_connect(beto) as ws:
        ws.send_json({"type": "start", "agent_id": "beto"})
        assert ws.receive_json()["code"] == "forbidden"


def test_stream_listeners_hear_turns_and_suggestions_posted_by_rest(client: TestClient) -> None:
    """The panel listens while the chat platform posts turns by webhook."""
    with client.websocket_connect("/v1/conversations/c-panel/stream") as panel:
        panel.send_json({"type": "start", "agent_id": "ana", "client": "bank"})
        assert panel.receive_json()["detail"] == "started"
        body = {"turn_id": "t1", "speaker": "customer", "text": "mi correo es ana@example.com"}
        posted = client.post("/v1/conversations/c-panel/turns", json=body).json()
        turn = panel.receive_json()
        assert (turn["type"], turn["turn_id"], turn["speaker"]) == ("turn", "t1", "customer")
        assert "ana@example.com" not in turn["text"]  # listeners get the redacted text
        suggestions = panel.receive_json()
        assert suggestions["type"] == "suggestions"
        assert [s["id"] for s in suggestions["suggestions"]] == [
            s["id"] for s in posted["suggestions"]
        ]
        # A turn sent on the stream itself is not echoed back to its sender.
        panel.send_json({"type": "turn", "turn_id": "a1", "speaker": "agent", "text": "Claro"})
        assert panel.receive_json() == {"type": "ack", "ref": "a1", "detail": "ok"}
