"""The scale-out benchmark's servers: replica processes, a local nginx, the run's database and keys.

Replicas are ``python -m copilot serve`` processes on free ports sharing one data folder (the KB),
as in ``docker-compose.yml``. nginx is Debian's binary with a configuration generated from
``deploy/nginx.conf`` (the same upstreams, socket and retry rules, with the compose service name
replaced by the replicas' ports). CPU time is read from ``/proc`` (Linux only).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
READY_TIMEOUT_S = 600.0
_TAIL_CHARS = 3000


class ServerStartError(RuntimeError):
    """A replica or nginx exited, or was not ready in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-_TAIL_CHARS:] if path.exists() else ""


@dataclass
class Replica:
    """One ``copilot serve`` process."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    startup_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_replica(
    data_dir: Path, env: dict[str, str], log: Path, extra_args: tuple[str, ...] = ()
) -> Replica:
    """Start ``copilot serve`` on a free port (returns at once; see `wait_ready`)."""
    port = free_port()
    cmd = [sys.executable, "-m", "copilot", "--data-dir", str(data_dir)]
    cmd += ["serve", "--port", str(port), *extra_args]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:  # this run's log only
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Replica(proc, port, log)


async def wait_ready(replica: Replica, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll ``/readyz`` until 200; raises `ServerStartError` with the log's tail otherwise."""
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=replica.url, timeout=5.0) as client:
        while time.perf_counter() - started < timeout_s:
            if replica.proc.poll() is not None:
                raise ServerStartError(
                    f"replica :{replica.port} exited with {replica.proc.returncode}:\n"
                    f"{_tail(replica.log)}"
                )
            try:
                response = await client.get("/readyz")
                if response.status_code == 200:
                    replica.startup_s = time.perf_counter() - started
                    return
                if response.json().get("status") == "failed":
                    raise ServerStartError(f"replica start failed:\n{_tail(replica.log)}")
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise ServerStartError(f"replica :{replica.port} not ready in {timeout_s:.0f} s")


def stop_replica(replica: Replica, timeout_s: float = 30.0) -> None:
    """Stop as Ctrl-C would (the log writer flushes), killing it if it hangs."""
    if replica.proc.poll() is None:
        replica.proc.send_signal(signal.SIGINT)
    try:
        replica.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        replica.proc.kill()
        replica.proc.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (nginx's workers), from ``/proc/PID/task/*/children``."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                continue
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (a gone process counts 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14, 15)
    return total


def nginx_config(template: str, ports: list[int], listen_port: int, folder: Path) -> str:
    """``deploy/nginx.conf`` for this machine: the replicas' ports instead of Docker's DNS name.

    Raises:
        ValueError: The template no longer has a line this rewrites (keep them in step).
    """
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    rewrites = [
        (r"^\s*resolver .*;\n", ""),
        (r"^\s*server copilot:8000 resolve;", servers),
        (r"^(\s*)listen 80;", rf"\g<1>listen 127.0.0.1:{listen_port};"),
        (r"^error_log .*;", f"error_log {folder}/error.log warn;"),
        (
            r"^http \{",
            f"http {{\n    client_body_temp_path {folder}/body;\n"
            f"    proxy_temp_path {folder}/proxy;",
        ),
    ]
    text = template
    for pattern, replacement in rewrites:
        text, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if n == 0:
            raise ValueError(f"{NGINX_TEMPLATE} has no line matching {pattern!r}")
    return text


@dataclass
class Nginx:
    """A local nginx master process in front of the replicas."""

    proc: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def find_nginx() -> str | None:
    """The nginx binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
    )


async def start_nginx(binary: str, ports: list[int], folder: Path) -> Nginx:
    """Start nginx (foreground master) on a free port; returns once it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(NGINX_TEMPLATE.read_text(), ports, port, folder))
    cmd = [binary, "-c", str(conf), "-p", str(folder), "-g", f"daemon off; pid {folder}/nginx.pid;"]
    with (folder / "stderr.log").open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    nginx = Nginx(proc, port, folder)
    async with httpx.AsyncClient(base_url=nginx.url, timeout=2.0) as client:
        for _ in range(50):
            if proc.poll() is not None:
                raise ServerStartError(f"nginx exited:\n{_tail(folder / 'error.log')}")
            try:
                if (await client.get("/lb-healthz")).status_code == 200:
                    return nginx
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise ServerStartError("nginx did not answer /lb-healthz")


def stop_nginx(nginx: Nginx) -> None:
    """Graceful quit (SIGQUIT), then kill if it lingers."""
    if nginx.proc.poll() is None:
        nginx.proc.send_signal(signal.SIGQUIT)
    try:
        nginx.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        nginx.proc.kill()
        nginx.proc.wait()


def _libpq(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def create_database(admin_url: str) -> str:
    """Create this run's own database; returns its SQLAlchemy (psycopg) URL."""
    name = f"copilot_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = _libpq(admin_url).rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    """Drop the run's database (connections of stopped replicas are gone by now)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_cpu_seconds(url: str) -> float | None:
    """The Redis server's CPU seconds so far (``INFO cpu``; every client's work, not only ours)."""
    import redis  # the service's own Redis client library

    try:
        with redis.Redis.from_url(url, socket_timeout=3) as client:
            info = client.info("cpu")
    except redis.RedisError:
        return None
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def delete_prefix(url: str, prefix: str) -> int:
    """Delete this run's keys (``prefix:*``); returns how many."""
    import redis

    deleted = 0
    with redis.Redis.from_url(url, socket_timeout=5) as client:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                deleted += int(client.delete(*batch))
                batch.clear()
        if batch:
            deleted += int(client.delete(*batch))
    return deleted
