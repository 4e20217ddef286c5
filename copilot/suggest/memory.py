"""Team memory: replies agents accepted or wrote for earlier customer turns, found by similarity."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from copilot.models.embedding import Embedder


@dataclass(frozen=True, slots=True)
class Remembered:
    """A reply the team sent for a customer turn (both already redacted); ``sent_at`` is when the
    agent's feedback was recorded (None when unknown)."""

    suggestion_id: str
    customer_text: str
    reply_text: str
    language: str | None
    client: str | None
    agent_id: str
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MemoryMatch:
    """A remembered reply and how similar its customer turn is to the current one (cosine)."""

    item: Remembered
    similarity: float


class TeamMemory:
    """What agents accepted or corrected becomes a suggestion for the next similar question.

    Vectors are the embeddings of the customer turns, from the same model as retrieval, so the
    current turn's query vector can be compared directly.
    """

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._items: list[Remembered] = []
        self._ids: set[str] = set()
        self._vectors = np.zeros((0, embedder.dim), np.float32)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, suggestion_id: object) -> bool:
        return suggestion_id in self._ids

    def add(self, items: list[Remembered]) -> int:
        """Remember replies (embeds their customer turns; call from a worker thread).

        An item is kept once per ``suggestion_id``: the replica that recorded the feedback adds it
        itself, and may read it again from the database when other replicas' changes are synced.

        Returns:
            How many items were new.
        """
        fresh = list(
            {i.suggestion_id: i for i in items if i.suggestion_id not in self._ids}.values()
        )
        if not fresh:
            return 0
        vectors = self._embedder.embed_queries([i.customer_text for i in fresh])
        with self._lock:  # another thread may have added some while these were embedded
            keep = [n for n, i in enumerate(fresh) if i.suggestion_id not in self._ids]
            self._items.extend(fresh[n] for n in keep)
            self._ids.update(fresh[n].suggestion_id for n in keep)
            self._vectors = np.vstack([self._vectors, vectors[keep]])
        return len(keep)

    def best(
        self,
        query: NDArray[np.float32],
        client: str | None,
        language: str | None,
        min_similarity: float,
    ) -> MemoryMatch | None:
        """The most similar remembered reply of this client and language, if similar enough.

        Args:
            query: Unit embedding of the customer turn on its own (as the memory was embedded).
            client: Only replies of this client (or of none) match; None matches all.
            language: Only replies in this language (or of unknown language) match.
            min_similarity: Cosine below which nothing matches.
        """
        with self._lock:
            if not self._items:
                return None
            sims = self._vectors @ query
            order = np.argsort(-sims)
            for i in order[:50]:
                item = self._items[int(i)]
                if float(sims[i]) < min_similarity:
                    return None
                same_client = client is None or item.client in (None, client)
                if same_client and item.language in (None, language):
                    return MemoryMatch(item, float(sims[i]))
        return None
