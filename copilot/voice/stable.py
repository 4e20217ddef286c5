"""Interim text that only grows once two consecutive windows agree on it."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _key(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


class StableText:
    """Settled words of one utterance, from successive anchored window transcripts.

    Words are settled once two windows with the same anchor agree on them (case and punctuation
    ignored); when the anchor moves, the previous window's text is settled as a whole.
    """

    def __init__(self) -> None:
        self._settled: list[str] = []
        self._anchor: float | None = None
        self._previous: list[str] | None = None
        self._shown = ""

    def update(self, anchor_s: float, text: str) -> str | None:
        """Take a window transcript; returns the stable text when it grew, else None."""
        words = text.split()
        if self._anchor is not None and anchor_s != self._anchor and self._previous is not None:
            self._settled.extend(self._previous)
            self._previous = None
        self._anchor = anchor_s
        agreed: list[str] = []
        if self._previous is not None:
            for old, new in zip(self._previous, words, strict=False):
                if _key(old) != _key(new):
                    break
                agreed.append(new)
        self._previous = words
        stable = " ".join(self._settled + agreed)
        if len(stable) > len(self._shown):
            self._shown = stable
            return stable
        return None
