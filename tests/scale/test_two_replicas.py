"""Two real ``copilot serve`` replicas on one PostgreSQL database, one Redis prefix and one KB
folder: a panel on either replica follows turns posted to the other, idempotency, feedback and
supersession hold across them, a replica killed with SIGKILL loses nothing acknowledged, and a
document `copilot kb add` commits is found by both without a failed search."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis
from websockets.sync.client import ClientConnection, connect

from tests.api.test_kb_follow import NEW_DOC, NEW_MARKDOWN, _found, _hammer
from tests.conftest import MANIFEST
from tests.processes import free_port, interrupt
from tests.redis_server import REDIS_URL, fresh_prefix

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
POSTGRES = os.environ.get(
    "COPILOT_TEST_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
QUESTION = "me robaron la tarjeta oro, ¿cómo la bloqueo?"
LOCK_TIMEOUT_S = 3


class Replica:
    """One ``copilot serve`` process of the pair."""

    def __init__(self, name: str, data_dir: Path, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = log_dir / f"replica-{name}.log"
        command = [sys.executable, "-m", "copilot", "--data-dir", str(data_dir), "serve"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--open-access", "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, conversation_id: str) -> ClientConnection:
        """The panel's socket on this replica."""
        path = f"/v1/conversations/{conversation_id}/stream"
        return connect(f"ws://127.0.0.1:{self.port}{path}", open_timeout=10)

    def wait_ready(self, timeout_s: float = 240.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2.0)
                if response.status_code == 200:
                    ready: dict[str, Any] = response.json()
                    return ready
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"replica {self.name} not ready:\n{self.text()}")

    def post(self, conversation_id: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/v1/conversations/{conversation_id}/{path}", json=body, timeout=60
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def database() -> Iterator[str]:
    """A throwaway PostgreSQL database both replicas log to."""
    name = f"copilot_replicas_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this run's own (its keys deleted afterwards)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set COPILOT_TEST_REDIS_URL): {exc}")
    name = fresh_prefix()
    yield name
    keys = list(client.scan_iter(match=f"{name}:*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def replicas(tmp_path: Path, database: str, prefix: str) -> Iterator[tuple[Replica, Replica]]:
    """Replica A (it ingests the demo KB into the shared folder), then B on the same folder."""
    kb = shutil.copytree(REPO / "tests" / "data" / "kb", tmp_path / "kb")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "COPILOT_MODELS_MANIFEST": str(MANIFEST),
        "COPILOT_KB_SOURCE_DIR": str(kb),
        "COPILOT_INGEST_DEMO_ON_START": "true",
        "COPILOT_USE_RERANKER": "false",
        "COPILOT_ASR_ENABLED": "false",
        "COPILOT_MACHINE_TRANSLATION": "false",
        "COPILOT_DATABASE_URL": database,
        "COPILOT_REDIS_URL": REDIS_URL,
        "COPILOT_REDIS_PREFIX": prefix,
        "COPILOT_REDIS_LOCK_TIMEOUT_S": str(LOCK_TIMEOUT_S),
    }
    data = tmp_path / "data"
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            replica = Replica(name, data, env, tmp_path)
            started.append(replica)
            ready = replica.wait_ready()
            assert ready.get("redis") == "ok", ready
        yield started[0], started[1]
    finally:
        for replica in started:
            if replica.process.poll() is None:
                interrupt(replica.process)


def _frames(ws: ClientConnection, n: int, timeout_s: float = 60.0) -> list[dict[str, Any]]:
    """The next ``n`` frames the socket receives."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while len(frames) < n:
        raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        frames.append(json.loads(raw))
    return frames


def _until(ws: ClientConnection, kind: str, turn_id: str) -> dict[str, Any]:
    """Read frames until the one of that type for that turn."""
    while True:
        frame = _frames(ws, 1)[0]
        if frame["type"] == kind and frame.get("turn_id") == turn_id:
            return frame


def _start(ws: ClientConnection, agent: str = "ana") -> dict[str, Any]:
    ws.send(json.dumps({"type": "start", "id": "s", "agent_id": agent, "channel": "chat"}))
    return _frames(ws, 1)[0]


def _turn(turn_id: str, text: str = QUESTION, speaker: str = "customer") -> dict[str, Any]:
    return {"turn_id": turn_id, "speaker": speaker, "text": text, "agent_id": "ana"}


def _logged(replica: Replica, conversation_id: str) -> dict[str, Any]:
    response = httpx.get(f"{replica.url}/v1/conversations/{conversation_id}", timeout=30)
    assert response.status_code == 200, response.text
    log: dict[str, Any] = response.json()
    return log


def test_a_panel_on_one_replica_follows_turns_posted_to_the_other(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    with b.ws("c-share") as panel:
        assert _start(panel)["detail"] == "started"
        answer = a.post("c-share", "turns", _turn("t1"))
        assert answer["type"] == "suggestions", answer
        turn, suggestions = _frames(panel, 2)
        assert (turn["type"], turn["turn_id"], turn["speaker"]) == ("turn", "t1", "customer")
        assert suggestions["type"] == "suggestions"
        assert suggestions["turn_id"] == "t1"
        assert [s["id"] for s in suggestions["suggestions"]] == [
            s["id"] for s in answer["suggestions"]
        ]

        # The same turn id again, on B: nothing new is made or logged.
        again = b.post("c-share", "turns", _turn("t1"))
        assert again["turn_id"] == "t1"
        assert [s["id"] for s in again["suggestions"]] == [s["id"] for s in answer["suggestions"]]
        a.post("c-share", "turns", _turn("a1", "Un momento, por favor.", "agent"))
        assert _frames(panel, 1)[0]["turn_id"] == "a1"
        assert b.post("c-share", "turns", _turn("a1", "otra vez", "agent")) == {
            "type": "ack",
            "ref": "a1",
            "detail": "duplicate",
        }
        panel.send(
            json.dumps({"type": "turn", "turn_id": "t1", "speaker": "customer", "text": QUESTION})
        )
        assert _frames(panel, 1)[0] == {"type": "ack", "ref": "t1", "detail": "duplicate"}

        # Feedback on B for a suggestion A made: recorded once, whichever replica hears it again.
        reply = next(s for s in answer["suggestions"] if s["kind"] != "reference")
        feedback = {"suggestion_id": reply["id"], "action": "accepted"}
        assert b.post("c-share", "feedback", feedback)["detail"] == "recorded"
        assert a.post("c-share", "feedback", feedback)["detail"] == "duplicate"
        assert b.post("c-share", "feedback", feedback)["detail"] == "duplicate"

    log = _logged(a, "c-share")
    assert [t["turn_id"] for t in log["turns"]] == ["t1", "a1"]
    assert len(log["suggestions"]) == len(answer["suggestions"])
    assert [f["suggestion_id"] for f in log["feedback"]] == [reply["id"]]


def test_a_replica_killed_mid_conversation_loses_nothing_acknowledged(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    acked: list[str] = []
    with a.ws("c-kill") as panel:
        assert _start(panel)["detail"] == "started"
        for n in range(1, 4):
            answer = a.post("c-kill", "turns", _turn(f"t{n}", f"{QUESTION} ({n})"))
            assert answer["turn_id"] == f"t{n}"
            acked.append(f"t{n}")
        last = answer
        # A turn in flight when A dies: its client got no answer, so it sends it again to B.
        in_flight: list[httpx.Response | Exception] = []

        def send() -> None:
            try:
                in_flight.append(
                    httpx.post(
                        f"{a.url}/v1/conversations/c-kill/turns",
                        json=_turn("t4", f"{QUESTION} (4)"),
                        timeout=30,
                    )
                )
            except httpx.HTTPError as exc:
                in_flight.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.05)
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(30)
        sender.join(30)
    if isinstance(in_flight[0], httpx.Response) and in_flight[0].status_code == 200:
        acked.append("t4")
        last = in_flight[0].json()

    with b.ws("c-kill") as panel:
        assert _start(panel)["detail"] == "resumed"
        resent = _frames(panel, 1)[0]
        assert resent["type"] == "suggestions"
        assert resent["turn_id"] == last["turn_id"]
        assert [s["id"] for s in resent["suggestions"]] == [s["id"] for s in last["suggestions"]]
        retried = b.post("c-kill", "turns", _turn("t4", f"{QUESTION} (4)"))
        assert retried["type"] == "suggestions" or retried["detail"] == "duplicate", retried
        after = b.post("c-kill", "turns", _turn("t5", "¿y si la encuentro después?"))
        assert after["type"] == "suggestions", after
        assert _until(panel, "suggestions", "t5")["suggestions"] == after["suggestions"]

    turns = [t["turn_id"] for t in _logged(b, "c-kill")["turns"]]
    assert set(acked) <= set(turns), (acked, turns)
    assert turns == sorted(set(turns)), turns  # each once
    assert turns[-2:] == ["t4", "t5"]


def test_a_newer_turn_on_a_supersedes_the_pending_one_on_b(
    replicas: tuple[Replica, Replica], prefix: str
) -> None:
    a, b = replicas
    # Another replica holds the conversation's turn lock: both turns join the dialogue, then wait.
    held = redis.Redis.from_url(REDIS_URL)
    lock = f"{prefix}:conv:{{c-race}}:lock"
    with a.ws("c-race") as panel, ThreadPoolExecutor(2) as pool:
        assert _start(panel)["detail"] == "started"
        assert held.set(lock, "another-replica", px=30_000)
        older = pool.submit(b.post, "c-race", "turns", _turn("t1", "hola"))
        assert _until(panel, "turn", "t1")
        newer = pool.submit(a.post, "c-race", "turns", _turn("t2"))
        assert _until(panel, "turn", "t2")
        held.delete(lock)
        assert older.result(60) == {"type": "ack", "ref": "t1", "detail": "superseded"}
        answer = newer.result(60)
        assert answer["type"] == "suggestions", answer
        assert _until(panel, "suggestions", "t2") == answer
    held.close()
    log = _logged(b, "c-race")
    assert [t["turn_id"] for t in log["turns"]] == ["t1", "t2"]
    assert {s["turn_id"] for s in log["suggestions"]} == {"t2"}


def test_a_document_the_cli_adds_is_found_by_both_replicas_without_a_failed_search(
    replicas: tuple[Replica, Replica], tmp_path: Path
) -> None:
    stop = threading.Event()
    statuses: list[int] = []
    errors: list[str] = []
    hammers = [
        threading.Thread(target=_hammer, args=(r.url, stop, statuses, errors)) for r in replicas
    ]
    for hammer in hammers:
        hammer.start()
    cli = [sys.executable, "-m", "copilot", "--data-dir", str(tmp_path / "data")]
    try:
        new_file = tmp_path / "new" / f"{NEW_DOC}.md"
        new_file.parent.mkdir()
        new_file.write_text(NEW_MARKDOWN, encoding="utf-8")
        added = subprocess.run(
            [*cli, "kb", "add", str(new_file)],
            cwd=REPO,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "COPILOT_MODELS_MANIFEST": str(MANIFEST)},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + 10
        pending = set(replicas)
        while pending and time.monotonic() < deadline:
            pending = {r for r in pending if not _found(r.url)}
            time.sleep(0.2)
    finally:
        stop.set()
        for hammer in hammers:
            hammer.join(timeout=30)
    assert not pending, "\n".join(r.text() for r in pending)
    assert errors == []
    assert statuses
    assert set(statuses) == {200}
