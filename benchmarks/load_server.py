"""The app under load: served in-process by uvicorn, warmed up, scraped and stopped."""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from copilot.api.app import create_app
from copilot.settings import Settings

READY_TIMEOUT_S = 600.0
WARM_THREADS = ("rerank-warm", "translate-warm")


@dataclass
class RunningServer:
    """A uvicorn server serving the app in a background thread."""

    server: uvicorn.Server
    thread: threading.Thread
    app: Any
    port: int
    startup_s: float = 0.0

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def bench_settings(data_dir: Path, micro_batching: bool, args: argparse.Namespace) -> Settings:
    """Service settings: defaults (as ``copilot serve``) apart from the data folder and batching."""
    return Settings(
        data_dir=data_dir,
        micro_batching=micro_batching,
        micro_batch_max=args.micro_batch_max,
        micro_batch_wait_ms=args.micro_batch_wait_ms,
        cpu_workers=args.cpu_workers,
        ingest_demo_on_start=True,
        open_access=True,
        _env_file=None,
    )


async def start_server(settings: Settings) -> RunningServer:
    """Serve a fresh app on a free port; returns once ``/readyz`` answers 200."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws_max_size=settings.max_frame_bytes * 4,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True
    )
    started = time.perf_counter()
    thread.start()
    running = RunningServer(server, thread, app, port)
    async with httpx.AsyncClient(base_url=running.http, timeout=5.0) as client:
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if not thread.is_alive():
                raise RuntimeError("the server stopped while starting (see the log above)")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    running.startup_s = time.perf_counter() - started
                    return running
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    server.should_exit = True
    raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S:.0f} s")


async def wait_background_warm(timeout_s: float = READY_TIMEOUT_S) -> float:
    """Wait for the app's background warm-up threads (``rerank-warm``: reranker passage cache)
    so that they do not compete with the measured turns; returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if not any(t.name.startswith(WARM_THREADS) and t.is_alive() for t in threading.enumerate()):
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def stop_server(running: RunningServer) -> None:
    """Ask uvicorn to exit (the lifespan flushes the log writer) and wait for its thread."""
    running.server.should_exit = True
    await asyncio.to_thread(running.thread.join, 60)


async def scrape(running: RunningServer) -> dict[str, float]:
    """``/metrics`` as ``{sample name{labels}: value}``; empty when it does not answer."""
    try:
        async with httpx.AsyncClient(base_url=running.http, timeout=10.0) as client:
            response = await client.get("/metrics")
    except httpx.HTTPError:
        return {}
    if response.status_code != 200:
        return {}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            if s.name.endswith("_created") or s.name.endswith("_bucket"):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = float(s.value)
    return out


def batcher_counts(running: RunningServer) -> tuple[int, int] | None:
    """(batches, texts) of the micro-batcher, read from the live app; None without one.

    Introspection of private attributes, read only: the batcher's counts are not in ``/metrics``.
    """
    state = getattr(running.app.state, "copilot", None)
    pipeline = getattr(getattr(state, "service", None), "_pipeline", None)
    embedder = getattr(pipeline, "_embedder", None)
    batches, texts = getattr(embedder, "batches", None), getattr(embedder, "texts", None)
    if isinstance(batches, int) and isinstance(texts, int):
        return batches, texts
    return None


async def readyz(running: RunningServer) -> dict[str, Any]:
    """The ``/readyz`` body, recorded with the results as the server's state."""
    async with httpx.AsyncClient(base_url=running.http, timeout=5.0) as client:
        body: dict[str, Any] = (await client.get("/readyz")).json()
    return body
