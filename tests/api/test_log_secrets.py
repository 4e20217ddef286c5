"""No API key and no raw conversation id in any log line: uvicorn's access and error lines, our own
loggers and exception text, from a real server in a thread (caplog at DEBUG) and from
``copilot serve`` in a subprocess (its JSON lines on stderr)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from websockets.sync.client import connect

from copilot.api.app import create_app
from copilot.logconfig import JsonFormatter
from copilot.logscrub import REDACTED, LogScrubber, log_scrubber
from copilot.models.embedding import Embedder
from copilot.models.reranker import Reranker
from copilot.settings import ApiKey, Settings
from tests.conftest import MANIFEST, REPO
from tests.processes import free_port, interrupt

AGENT = "key-agent+ana/0123456789"
"""A key whose query-string form is percent-encoded (``+`` and ``/``)."""
ADMIN = "key-admin-0123456789abcd"
UNKNOWN = "not-a-key-at-all-xxxxxxxx"
PHONE_ID = "+5511987654321"
"""A conversation id as a WhatsApp-style platform sends it: the customer's phone number."""
NEVER_LOGGED = (
    AGENT,
    quote(AGENT, safe=""),
    "agent+ana",
    "agent%2Bana",
    ADMIN,
    UNKNOWN,
    "5511987654321",
)
KEYS = [
    {"key": AGENT, "role": "agent", "agent_id": "ana"},
    {"key": ADMIN, "role": "admin"},
]
_START_TIMEOUT_S = 180.0


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Logging does not depend on the database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"


def _wait_ready(url: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and alive():
        try:
            if httpx.get(url + "/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server at {url} did not become ready")


def _use_the_service(url: str) -> None:
    """Present keys every way a caller can (header, X-API-Key, page and socket query strings) on
    a conversation whose id is a phone number; every call must still succeed."""
    bearer = {"Authorization": f"Bearer {AGENT}"}
    body = {"turn_id": "t1", "speaker": "customer", "text": "me robaron la tarjeta"}
    turn = httpx.post(f"{url}/v1/conversations/{PHONE_ID}/turns", json=body, headers=bearer)
    assert turn.status_code == 200, turn.text
    assert turn.json()["type"] == "suggestions"
    read = httpx.get(f"{url}/v1/conversations/{PHONE_ID}", headers={"X-API-Key": ADMIN})
    assert [t["turn_id"] for t in read.json()["turns"]] == ["t1"]
    page = httpx.get(f"{url}/panel", params={"token": AGENT, "conversation": PHONE_ID})
    assert page.status_code == 200
    assert httpx.get(f"{url}/v1/me", params={"token": UNKNOWN}).status_code == 401
    assert httpx.get(
        f"{url}/v1/me", headers={"Authorization": f"Bearer {UNKNOWN}"}
    ).status_code == (401)
    ws_url = url.replace("http://", "ws://")
    stream = f"{ws_url}/v1/conversations/{quote(PHONE_ID)}/stream?access_token={quote(AGENT, '')}"
    with connect(stream) as ws:
        ws.send(json.dumps({"type": "start", "id": "s1", "agent_id": "ana"}))
        started = json.loads(ws.recv(timeout=30))
        assert (started["type"], started["detail"]) == ("ack", "resumed")  # REST began it
        ws.send(
            json.dumps({"type": "turn", "turn_id": "t2", "speaker": "customer", "text": "hola"})
        )
        assert json.loads(ws.recv(timeout=60))["type"] == "suggestions"


def _assert_clean(lines: list[str]) -> None:
    leaks = [line for line in lines if any(secret in line for secret in NEVER_LOGGED)]
    assert not leaks, f"{len(leaks)} of {len(lines)} lines leak:\n" + "\n".join(leaks[:20])


@pytest.mark.parametrize(
    ("line", "scrubbed"),
    [
        (
            f'127.0.0.1:5000 - "GET /panel?conversation=x&token={quote(AGENT, safe="")} HTTP/1.1"',
            '127.0.0.1:5000 - "GET /panel?conversation=conv-{x}&token=[REDACTED] HTTP/1.1"',
        ),
        (
            "WebSocket /v1/conversations/x/stream?ACCESS_TOKEN=abc&lang=es",
            "WebSocket /v1/conversations/conv-{x}/stream?ACCESS_TOKEN=[REDACTED]&lang=es",
        ),
        (
            "?api_key=a&Key=b&password=c&Secret=d&page=2",
            "?api_key=[REDACTED]&Key=[REDACTED]&password=[REDACTED]&Secret=[REDACTED]&page=2",
        ),
        (
            f"[(b'authorization', b'Bearer {AGENT}'), (b'x-api-key', b'{UNKNOWN}')]",
            "[(b'authorization', b'Bearer [REDACTED]'), (b'x-api-key', b'[REDACTED]')]",
        ),
        ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"),
        (f"key {AGENT} in prose", "key [REDACTED] in prose"),
        (
            "turn_handled conversation_id=x turn_id=t1",
            "turn_handled conversation_id=conv-{x} turn_id=t1",
        ),
        (
            "ForbiddenError: conversation x belongs to another agent",
            "ForbiddenError: conversation conv-{x} belongs to another agent",
        ),
        ("n_tokens=5 monkey=3 route /conversations/{conversation_id}", None),
    ],
)
def test_scrubber_removes_keys_and_hashes_conversation_ids(line: str, scrubbed: str | None) -> None:
    scrubber = LogScrubber()
    scrubber.protect([AGENT])
    tag = scrubber.conversation_tag("x")
    assert scrubber.scrub(line) == (line if scrubbed is None else scrubbed.replace("conv-{x}", tag))
    assert scrubber.scrub(scrubber.scrub(line)) == scrubber.scrub(line)  # scrubbing is idempotent


def test_one_conversation_id_gets_one_tag_per_salt() -> None:
    scrubber = LogScrubber()
    scrubber.use_salt(b"install-1")
    tag = scrubber.conversation_tag(PHONE_ID)
    assert tag.startswith("conv-")
    assert len(tag) == len("conv-") + 12
    assert scrubber.conversation_tag(PHONE_ID) == tag
    # The access line percent-encodes the id; the tag is the same as in our own lines.
    assert (
        scrubber.scrub(f"/v1/conversations/{quote(PHONE_ID)}/turns")
        == f"/v1/conversations/{tag}/turns"
    )
    scrubber.use_salt(b"install-2")
    assert scrubber.conversation_tag(PHONE_ID) != tag


@pytest.mark.parametrize(
    "conversation_id",
    ["55 11 98765-4321", 'cliente "55" 11, 98765', "conv) ðïcÞ@ 4321", "%2B5511987654321"],
)
def test_an_id_logged_as_an_argument_is_hashed_whole(
    conversation_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An id with spaces, quotes, commas or brackets (any 1-128 characters are accepted) is
    replaced as a whole: none of its pieces reaches the line."""
    scrubber = log_scrubber()
    caplog.set_level(logging.INFO)
    logging.getLogger("copilot.test").info(
        "conversation_started conversation_id=%s resumed=%s", conversation_id, False
    )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "copilot.test"]
    tag = scrubber.conversation_tag(conversation_id)
    assert line == f"conversation_started conversation_id={tag} resumed=False"


@pytest.fixture
def keyed_settings(service_settings: Settings) -> Settings:
    """The service with two keys and open access off."""
    keys = [ApiKey.model_validate(k) for k in KEYS]
    return service_settings.model_copy(update={"open_access": False, "api_keys": keys})


def test_no_key_or_raw_conversation_id_in_any_log_line_of_a_live_server(
    keyed_settings: Settings,
    e5: Embedder,
    use_reranker: Reranker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = create_app(keyed_settings, embedder=e5, reranker=use_reranker)
    port = free_port()
    # As `copilot serve` runs it: no uvicorn logging config, so its records reach the root logger.
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="log-secrets-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, thread.is_alive)
        _use_the_service(url)
        try:
            raise ValueError(f"Authorization: Bearer {AGENT} for conversation {PHONE_ID} has not")
        except ValueError:
            logging.getLogger("copilot.api.websocket").exception(
                "turn_failed conversation_id=%s", PHONE_ID
            )
    finally:
        server.should_exit = True
        thread.join(timeout=30)

    formatter = JsonFormatter()
    records = caplog.records
    lines = caplog.text.splitlines() + [formatter.format(r) for r in records]
    _assert_clean(lines)
    assert PHONE_ID not in caplog.text
    tag = log_scrubber().conversation_tag(PHONE_ID)
    access = [r.getMessage() for r in records if r.name == "uvicorn.access"]
    assert any(f"POST /v1/conversations/{tag}/turns HTTP" in m for m in access), access
    assert any(f"/panel?token={REDACTED}&conversation={tag}" in m for m in access), access
    accepted = [r.getMessage() for r in records if "[accepted]" in r.getMessage()]
    assert any(f"/v1/conversations/{tag}/stream?access_token={REDACTED}" in m for m in accepted)
    assert any(f"conversation_started conversation_id={tag}" in r.getMessage() for r in records)
    failed = [r for r in records if r.getMessage() == f"turn_failed conversation_id={tag}"]
    assert failed
    assert failed[0].exc_text is not None
    assert f"Bearer {REDACTED} for conversation {tag}" in failed[0].exc_text


def test_copilot_serve_writes_no_key_to_stderr(tmp_path: Path, kb_sources: Path) -> None:
    """The real entry point: `copilot serve` in a subprocess, every stderr line checked."""
    port = free_port()
    env = {
        **os.environ,
        "COPILOT_DATA_DIR": str(tmp_path / "data"),
        "COPILOT_MODELS_MANIFEST": str(MANIFEST),
        "COPILOT_KB_SOURCE_DIR": str(kb_sources),
        "COPILOT_INGEST_DEMO_ON_START": "true",
        "COPILOT_API_KEYS": json.dumps(KEYS),
        "COPILOT_OPEN_ACCESS": "false",
        "COPILOT_ASR_ENABLED": "false",
    }
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "copilot", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, lambda: proc.poll() is None)
            _use_the_service(url)
        finally:
            interrupt(proc)
    text = stderr_path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    _assert_clean(lines)
    assert PHONE_ID not in text
    events = [json.loads(line) for line in lines if line.startswith("{")]
    access = [e["event"] for e in events if e["logger"] == "uvicorn.access"]
    assert any("POST /v1/conversations/conv-" in a and "/turns HTTP" in a for a in access), text
    assert any(f"/panel?token={REDACTED}" in a for a in access), text
    accepted = [e["event"] for e in events if "[accepted]" in e["event"]]
    assert any(f"/stream?access_token={REDACTED}" in a for a in accepted), text


def test_a_refused_key_quoted_by_a_settings_error_is_not_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A key too short to be accepted is still a secret; pydantic quotes it in its error."""
    log_scrubber()
    monkeypatch.setenv("COPILOT_API_KEYS", '[{"key": "short-secret", "role": "admin"}]')
    try:
        Settings(_env_file=None)
    except ValidationError:
        logging.getLogger("copilot.cli.main").exception("cli_failed")
    else:
        pytest.fail("a 12-character key was accepted")
    assert "too_short" in caplog.text
    assert "short-secret" not in caplog.text
