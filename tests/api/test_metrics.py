"""/metrics serves the process, platform and GC collectors and the build info beside our own."""

from __future__ import annotations

import platform

from fastapi.testclient import TestClient

import copilot


def _samples(client: TestClient) -> list[str]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text.splitlines()


def test_metrics_carry_process_platform_and_gc_collectors(client: TestClient) -> None:
    names = {line.split("{")[0].split(" ")[0] for line in _samples(client) if line[:1] != "#"}
    # Process figures come from /proc: Linux only, which is where the service runs.
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names
    assert "process_open_fds" in names
    assert "python_info" in names
    assert "python_gc_collections_total" in names


def test_metrics_carry_the_build_info(client: TestClient) -> None:
    build = [line for line in _samples(client) if line.startswith("copilot_build_info{")]
    assert len(build) == 1
    assert f'version="{copilot.__version__}"' in build[0]
    assert f'python="{platform.python_version()}"' in build[0]
    assert build[0].endswith(" 1.0")
