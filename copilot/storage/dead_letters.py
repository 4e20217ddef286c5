"""The dead-letter file: log writes the database refused for good, kept so none is lost silently."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from copilot.errors import StorageError

logger = logging.getLogger(__name__)


def _plain(value: object) -> object:
    """JSON form of what records hold: dataclasses, enums, datetimes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class DeadLetters:
    """Appends one JSON line per refused write (job, error, the redacted records) with fsync.

    A write lands here only when retrying cannot help (a constraint or a value the database will
    not store): an operator can read the line, fix the cause and replay it by hand.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, job: str, error: str, payload: object) -> None:
        """Record one refused write; durable when this returns.

        Raises:
            StorageError: the file cannot be written (the caller still reports the failure).
        """
        line = json.dumps(
            {"at": datetime.now(UTC).isoformat(), "job": job, "error": error, "payload": payload},
            default=_plain,
            ensure_ascii=False,
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise StorageError(f"dead-letter file {self.path} cannot be written ({exc})") from exc

    def read(self) -> list[dict[str, object]]:
        """Every dead letter, oldest first (empty when the file does not exist)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
