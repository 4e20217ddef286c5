"""Bounded query embedding: a long query is read as its head and tail, pieces embedded apart."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

QUERY_WINDOW_TOKENS = 128
"""Most tokens of a query text multilingual-e5-small reads whole. Chat turns and 4-turn dialogue
contexts of the eval sets fit (turns at most 77 tokens; contexts p95 104, max 141), so ordinary
traffic is embedded as before."""

QUERY_PIECE_TOKENS = 32
"""A longer text is read as its first and last this many tokens, two pieces embedded apart. The
engine's cost grows faster than the length (attention): on two shared cores 10 tokens took 24 ms,
45 tokens 57 ms, 85 tokens 82 ms, 525 tokens 1.06 s, and a 3,000-character turn (790 tokens)
1.2 s, its dialogue context as much again. The micro-batcher embeds each piece alone, between
batches, so one piece is the longest a long turn makes another conversation's query wait. With
120 demo-KB questions set in 3,000 characters of filler, recall@3 was 0.66 / 0.69 (question at
the start / end) against 0.26 / 0.25 reading the whole text and 0.84 for the questions alone;
48-token pieces gave 0.65 / 0.58, 40-token ones 0.64 / 0.65: less filler beside the question."""

TokenCount = Callable[[str], int]
"""Tokens of a text as a model reads it, without its prefix and special tokens."""


def _cut_word(word: str, budget: int, count: TokenCount, tail: bool) -> str:
    """The longest start (or end) of one word that fits ``budget`` tokens."""
    lo, hi = 0, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(word[-mid:] if tail else word[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    if not lo:
        return ""
    return word[-lo:] if tail else word[:lo]


def _edge(words: list[str], budget: int, count: TokenCount, tail: bool) -> str:
    """The first (or last) whole words of a text that fit ``budget`` tokens, joined by spaces."""
    order = words[::-1] if tail else words
    taken: list[str] = []
    used = 0
    for word in order:
        used += count(word)
        if used > budget:
            break
        taken.append(word)
    if tail:
        taken.reverse()
    # Word counts add up to the text's count but for rare normaliser joins: check the piece.
    while taken and count(" ".join(taken)) > budget:
        taken.pop(0 if tail else -1)
    if not taken:  # one word over the budget: a URL, characters without spaces
        return _cut_word(order[0], budget, count, tail)
    return " ".join(taken)


def _fits(text: str, max_tokens: int, count: TokenCount) -> bool:
    """Whether ``text`` has at most ``max_tokens`` tokens.

    A chat turn is counted at once; a long text word by word first, which stops a few words past
    the limit (a whole count of 3,000 characters takes 6 ms).
    """
    if len(text) > 4 * max_tokens:
        total = 0
        for word in text.split():
            total += count(word)
            if total > max_tokens:
                return False
    return count(text) <= max_tokens


def query_window(text: str, max_tokens: int, piece_tokens: int, count: TokenCount) -> list[str]:
    """A query text as the pieces an embedder reads: itself, or its head and its tail.

    A text of more than ``max_tokens`` tokens becomes its first and its last ``piece_tokens``
    tokens, cut at whitespace. The middle is left out: a customer asks at the start or at the end
    of a long message, and what lies between costs time and blurs the question.

    Args:
        text: The query.
        max_tokens: Most tokens of a text read whole.
        piece_tokens: Tokens of the head and of the tail of a longer text (at least 1).
        count: The model's token count.

    Returns:
        ``[text]``, or ``[head, tail]`` of at most ``piece_tokens`` tokens each.
    """
    if _fits(text, max_tokens, count):
        return [text]
    words = text.split()
    return [
        _edge(words, piece_tokens, count, tail=False),
        _edge(words, piece_tokens, count, tail=True),
    ]


def pooled(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    """One unit vector for a text embedded in pieces: the mean of their unit vectors, normalised.

    Head and tail weigh alike, as the engine's own windows do when they hold as many tokens.
    """
    mean: NDArray[np.float32] = vectors.mean(axis=0, dtype=np.float32)
    norm = float(np.linalg.norm(mean))
    return mean / np.float32(norm) if norm else mean


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """The distinct pieces a list of query texts is embedded from, and how to join them back.

    Attributes:
        pieces: Distinct texts to embed (a long turn's tail is often its dialogue context's too).
        parts: For each query text, the indices in ``pieces`` of its pieces (one when read whole).
    """

    pieces: tuple[str, ...]
    parts: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, texts: Sequence[str], window: Callable[[str], list[str]]) -> QueryPlan:
        """Plan ``texts`` with an embedder's ``query_pieces``."""
        index: dict[str, int] = {}
        parts = tuple(
            tuple(index.setdefault(piece, len(index)) for piece in window(text)) for text in texts
        )
        return cls(tuple(index), parts)

    @property
    def long_pieces(self) -> frozenset[int]:
        """Indices of the pieces that belong to a text read in more than one piece."""
        return frozenset(i for part in self.parts if len(part) > 1 for i in part)

    def join(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """The texts' unit vectors, ``(len(parts), dim)``, from the pieces' ``(len(pieces), dim)``.

        A text read whole gets its piece's row unchanged.
        """
        rows = [vectors[p[0]] if len(p) == 1 else pooled(vectors[list(p)]) for p in self.parts]
        if not rows:
            return np.zeros((0, vectors.shape[1]), np.float32)
        return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)
