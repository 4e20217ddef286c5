"""Helpers for tests that run real servers: a free local port, a subprocess stopped like Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def interrupt(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """Stop a server as Ctrl-C would (its shutdown runs), killing it if it hangs."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
