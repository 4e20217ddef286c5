"""A running service loads what `copilot kb add` commits from another process, without a restart
and without failing a request meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import MANIFEST
from tests.processes import free_port, interrupt

REPO = Path(__file__).resolve().parents[2]
NEW_DOC = "tel-es-traslado-fibra"
NEW_MARKDOWN = f"""---
id: {NEW_DOC}
title: "Traslado de la fibra óptica por mudanza"
language: es
client: telco
tags: [fibra, mudanza]
---
# Traslado de la fibra óptica por mudanza

## Cómo pedir el traslado
Si se muda de casa, pida el traslado de su fibra óptica con diez días de anticipación. Un técnico
instala el router en el nuevo domicilio sin costo y conserva su número de cliente.
"""
QUESTION = "me mudo de casa, ¿cómo traslado la fibra óptica?"


def _found(base: str, timeout_s: float = 5.0) -> bool:
    response = httpx.get(f"{base}/v1/kb/search", params={"q": QUESTION}, timeout=timeout_s)
    response.raise_for_status()
    return NEW_DOC in {hit["doc_id"] for hit in response.json()["results"]}


def _hammer(base: str, stop: threading.Event, statuses: list[int], errors: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=10.0) as client:
        while not stop.is_set():
            try:
                response = client.get("/v1/kb/search", params={"q": "me robaron la tarjeta oro"})
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                continue
            statuses.append(response.status_code)


@pytest.mark.slow
def test_copilot_serve_finds_a_document_the_cli_adds_without_failing_a_search(
    tmp_path: Path, kb_sources: Path
) -> None:
    port = free_port()
    data = tmp_path / "data"
    env = {
        **os.environ,
        "COPILOT_MODELS_MANIFEST": str(MANIFEST),
        "COPILOT_KB_SOURCE_DIR": str(kb_sources),
        "COPILOT_ASR_ENABLED": "false",
    }
    base_command = [sys.executable, "-m", "copilot", "--data-dir", str(data)]
    serve = [*base_command, "serve", "--open-access", "--demo", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(serve, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    statuses: list[int] = []
    errors: list[str] = []
    hammer = threading.Thread(target=_hammer, args=(base, stop, statuses, errors))
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert not _found(base), log.read_text(errors="replace")
        hammer.start()

        new_file = tmp_path / "new" / f"{NEW_DOC}.md"
        new_file.parent.mkdir()
        new_file.write_text(NEW_MARKDOWN, encoding="utf-8")
        added = subprocess.run(
            [*base_command, "kb", "add", str(new_file)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + 10
        found = False
        while not found and time.monotonic() < deadline:
            found = _found(base)
            time.sleep(0.2)
    finally:
        stop.set()
        if hammer.is_alive():
            hammer.join(timeout=30)
        interrupt(proc)
    text = log.read_text(errors="replace")
    assert found, text
    assert "kb_reloaded" in text, text
    assert errors == [], text
    assert statuses, text
    assert set(statuses) == {200}, text
    assert proc.returncode == 0, text
