"""`copilot serve` as a subprocess on one KB, reusing its data folder while the KB is unchanged."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from copilot.kb.suite import content_digest

ROOT = Path(__file__).resolve().parent.parent
_READY_MARK = ".bench-ready"
_LOG_TAIL_CHARS = 2000


class ServiceStartError(RuntimeError):
    """The service exited, or did not answer ``/readyz``, before it was ready."""


@dataclass(frozen=True, slots=True)
class ServedCopilot:
    """A running service: its base URL, data folder and what ``/readyz`` reported."""

    url: str
    data_dir: Path
    kb_passages: int
    startup_s: float
    ingested: bool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-_LOG_TAIL_CHARS:] if log.exists() else ""


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def _wait_ready(
    proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float
) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServiceStartError(f"service exited with {proc.returncode}:\n{_tail(log)}")
            try:
                r = client.get(f"{url}/readyz")
                body: dict[str, object] = r.json()
                if r.status_code == 200:
                    return body
                if body.get("status") == "failed":  # the port stays open after a failed start
                    raise ServiceStartError(f"service start failed:\n{_tail(log)}")
            except httpx.TransportError:
                pass
            time.sleep(1.0)
    raise ServiceStartError(f"service not ready after {timeout_s:.0f} s:\n{_tail(log)}")


@contextmanager
def serve_kb(
    name: str, kb_source: Path, data_root: Path, ready_timeout_s: float = 1800.0
) -> Iterator[ServedCopilot]:
    """Run ``copilot serve --open-access`` on ``kb_source`` until the block exits.

    The data folder is ``data_root/<name>-<kb hash>``: the first start ingests the KB (the service
    fills an empty KB from ``COPILOT_KB_SOURCE_DIR``), later starts reuse it. A folder whose first
    start never became ready is removed, so a half-ingested KB is never measured.

    Args:
        name: Short name of the KB, part of the folder name.
        kb_source: A KB file (e.g. ``kb.jsonl``) or folder.
        data_root: Where the per-KB data folders live.
        ready_timeout_s: Seconds to wait for ``/readyz`` (ingest included).

    Yields:
        The running service; it is terminated (killed if need be) when the block exits.

    Raises:
        ServiceStartError: The service exited or was not ready in time (with its log's tail).
    """
    data_dir = data_root / f"{name}-{content_digest((kb_source,))[:12]}"
    if data_dir.exists() and not (data_dir / _READY_MARK).exists():
        shutil.rmtree(data_dir)
    ingested = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "COPILOT_KB_SOURCE_DIR": str(kb_source.resolve()),
        "COPILOT_INGEST_DEMO_ON_START": "true",
    }
    cmd = [sys.executable, "-m", "copilot", "--data-dir", str(data_dir)]
    cmd += ["serve", "--open-access", "--port", str(port)]
    log = data_dir / "serve.log"
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = _wait_ready(proc, url, log, ready_timeout_s)
        passages = ready.get("kb_passages")
        if not isinstance(passages, int) or passages == 0:
            raise ServiceStartError(f"service for {kb_source} is ready with an empty KB")
        (data_dir / _READY_MARK).write_text("ok\n")
        yield ServedCopilot(url, data_dir, passages, time.monotonic() - started, ingested)
    finally:
        # A start that failed after the ingest finished keeps its KB for the next try.
        if "demo_kb_ingested" in _log_text(log):
            (data_dir / _READY_MARK).write_text("ok\n")
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
