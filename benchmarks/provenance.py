"""Where a benchmark result comes from: git commit, dirty flag and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """Short hash of HEAD, or ``"uncommitted"`` when there is none (or no git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"
    return out.stdout.strip() or "uncommitted"


def git_dirty() -> bool | None:
    """Whether tracked files differ from HEAD (None without git)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return bool(out.stdout.strip())


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
