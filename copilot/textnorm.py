"""Text normalisation shared by search and drafting: accent folding and es/en/pt tokens."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_PORTUGUESE, STOPWORDS_SPANISH

_TOKEN = re.compile(r"[a-z0-9]+")
PREFIX_LEN = 6
"""Tokens are cut to their first letters: a cheap stemmer that works the same for all three
languages (devolución and devoluciones share ``devolu``), needs no language guess, and forgives most
chat typos at the end of words."""


def fold(text: str) -> str:
    """Lowercase and strip accents, so ``Cartão`` and ``cartao`` match."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    words = (*STOPWORDS_EN, *STOPWORDS_SPANISH, *STOPWORDS_PORTUGUESE)
    return frozenset(fold(w) for w in words)


def tokenize(text: str) -> list[str]:
    """Folded, stopword-free tokens cut to ``PREFIX_LEN`` characters."""
    stop = _stopwords()
    return [t[:PREFIX_LEN] for t in _TOKEN.findall(fold(text)) if t not in stop and len(t) > 1]
