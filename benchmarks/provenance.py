"""Where a benchmark result comes from: git commit, dirty flag and the machine it ran on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    """Output of a git command in the repository, or None without git or a repository."""
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=ROOT)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def git_commit() -> str:
    """Short hash of HEAD, or ``"uncommitted"`` when there is none (or no git)."""
    return _git("rev-parse", "--short", "HEAD") or "uncommitted"


def git_dirty() -> bool | None:
    """Whether tracked files differ from HEAD (None without git)."""
    status = _git("status", "--porcelain", "--untracked-files=no")
    return None if status is None else bool(status)


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def hardware() -> dict[str, object]:
    """CPU, core count, total memory and load average of this machine."""
    mem_kb = _proc_field("/proc/meminfo", "MemTotal")
    mem_gib = round(int(mem_kb.split()[0]) / 1024**2, 2) if mem_kb else None
    return {
        "processor": platform.processor() or _proc_field("/proc/cpuinfo", "model name"),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "memory_total_gib": mem_gib,
        "load_average_at_start": list(os.getloadavg()),
    }


def write_result(folder: Path, name: str, started: datetime, report: dict[str, Any]) -> Path:
    """Write a result as ``<folder>/<name>-<YYYYmmdd-HHMMSS>.json`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{started.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path
