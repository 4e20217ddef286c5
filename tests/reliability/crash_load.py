"""Kill -9 under load: a real ``copilot serve`` process, concurrent conversations over REST, a
SIGKILL mid-run, then every acknowledged turn and feedback looked up in the SQLite log.

Shared by the slow test (tests/reliability/test_kill9.py) and the benchmark
(benchmarks/durability.py), which also runs it against an older source tree for a baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.processes import free_port

_SYNC = {"sqlite": "sqlite", "postgr": "postgresql+psycopg"}
REPO = Path(__file__).resolve().parents[2]
QUESTIONS = (
    "¿Cómo bloqueo mi tarjeta si me la robaron?",
    "Quiero cambiar la contraseña de la app",
    "My roaming does not work abroad, what can I do?",
    "Meu pedido chegou com defeito, como faço a devolução?",
    "¿Cuánto tarda un contracargo?",
)


@dataclass
class Acked:
    """What the service acknowledged (answered 200) during one run, and how long turns took."""

    turns: set[tuple[str, str]] = field(default_factory=set)
    feedback: set[str] = field(default_factory=set)
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass
class Found:
    """What the log database holds after the run."""

    turns: set[tuple[str, str]]
    feedback: set[str]
    integrity: str


class Server:
    """``copilot serve`` in a child process, on a data folder and a source tree of our choosing."""

    def __init__(
        self, data_dir: Path, kb_dir: Path, source: Path = REPO, database_url: str | None = None
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.database_url = database_url or f"sqlite:///{data_dir / 'copilot.sqlite'}"
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "HF_HUB_OFFLINE": "1",
            "COPILOT_DATA_DIR": str(data_dir),
            "COPILOT_KB_SOURCE_DIR": str(kb_dir),
            "COPILOT_INGEST_DEMO_ON_START": "true",
            "COPILOT_MODELS_MANIFEST": str(REPO / "models" / "manifest.toml"),
            "COPILOT_USE_RERANKER": "false",
            "COPILOT_DATABASE_URL": self.database_url,
        }
        self._log = (data_dir.parent / f"server-{self.port}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "copilot", "serve", "--open-access", "--port", str(self.port)],
            cwd=source,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError("server not ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)
        self._log.close()


async def _conversation(
    http: httpx.AsyncClient, name: str, stop_at: float, think_s: float, acked: Acked
) -> None:
    rng = random.Random(name)
    n = 0
    await asyncio.sleep(rng.uniform(0, think_s))
    while time.monotonic() < stop_at:
        n += 1
        turn_id = f"t{n}"
        body = {
            "turn_id": turn_id,
            "speaker": "customer",
            "text": rng.choice(QUESTIONS),
            "agent_id": "agent-" + name,
        }
        started = time.perf_counter()
        try:
            response = await http.post(f"/v1/conversations/{name}/turns", json=body)
        except httpx.HTTPError:
            acked.errors += 1
            return
        if response.status_code != 200:
            acked.errors += 1
            continue
        acked.latencies_ms.append((time.perf_counter() - started) * 1000)
        acked.turns.add((name, turn_id))
        answer = response.json()
        replies = [s for s in answer.get("suggestions", []) if s["kind"] != "reference"]
        if replies:
            feedback = {"suggestion_id": replies[0]["id"], "action": "accepted"}
            try:
                sent = await http.post(f"/v1/conversations/{name}/feedback", json=feedback)
            except httpx.HTTPError:
                acked.errors += 1
                return
            if sent.status_code == 200 and sent.json().get("detail") == "recorded":
                acked.feedback.add(replies[0]["id"])
        await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def load(url: str, conversations: int, seconds: float, think_s: float, tag: str) -> Acked:
    """``conversations`` concurrent REST conversations for ``seconds`` (or until the server
    dies); each sends a customer turn, accepts its first reply, thinks, and goes on."""
    acked = Acked()
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=conversations + 4)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        await asyncio.gather(
            *(
                _conversation(http, f"{tag}-{i}", stop_at, think_s, acked)
                for i in range(conversations)
            )
        )
    return acked


@contextlib.contextmanager
def stalled(database_url: str) -> Iterator[None]:
    """Hold the log tables locked (a busy or slow database): writes wait while this lasts."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        lock = sqlite3.connect(url.database or "", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as pg_lock:
        pg_lock.execute("LOCK TABLE conversations, turns, suggestions, feedback IN EXCLUSIVE MODE")
        yield
        pg_lock.rollback()


async def load_then_kill(
    server: Server,
    conversations: int,
    kill_after_s: float,
    think_s: float,
    tag: str,
    stall_s: float = 0.0,
) -> Acked:
    """Run the load and SIGKILL the server ``kill_after_s`` into it, with requests in flight.

    With ``stall_s``, the log tables are locked that long before the kill (and released only
    after it): a service that acknowledges queued writes acknowledges turns it then loses.
    """

    async def killer() -> None:
        await asyncio.sleep(kill_after_s - stall_s)
        with stalled(server.database_url):
            await asyncio.sleep(stall_s)
            await asyncio.to_thread(server.kill)

    acked, _ = await asyncio.gather(
        load(server.url, conversations, kill_after_s + 60, think_s, tag), killer()
    )
    return acked


def found(database_url: str) -> Found:
    """Turn and feedback ids in the log database, and (SQLite) its integrity check."""
    engine = create_engine(make_url(database_url).set(drivername=_SYNC[database_url[:6]]))
    try:
        with engine.connect() as db:
            turns = {
                (c, t) for c, t in db.execute(text("SELECT conversation_id, turn_id FROM turns"))
            }
            feedback = {row[0] for row in db.execute(text("SELECT suggestion_id FROM feedback"))}
            integrity = (
                str(db.execute(text("PRAGMA integrity_check")).scalar())
                if engine.dialect.name == "sqlite"
                else "ok"
            )
    finally:
        engine.dispose()
    return Found(turns, feedback, integrity)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
