"""The interface every suggestion source implements, and the turn facts the pipeline hands them.

A source turns what the pipeline learned about one customer turn (language, hits, confidence,
conversational move) into zero or more candidate suggestions. The pipeline calls the registered
sources in order (see `registry`), gives each the candidates of those before it, assigns ids and
keeps the first ``suggestions_k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from copilot.domain import Evidence, SearchHit, SuggestionKind
from copilot.suggest.moves import MoveMatch


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What the pipeline knows about one customer turn when it asks the sources.

    Attributes:
        text: The turn as typed (redacted).
        language: The customer's language; every suggestion is in it.
        client: The client whose KB and memory apply; None for all.
        turn_vector: Unit query embedding of the turn on its own (not mixed with context).
        hits: Retrieved passages, best first; empty when the turn was not searched.
        confidence: Calibrated probability that the first hit answers the turn (3 decimals); for
            a pure move, the move's cosine with its nearest prototype.
        abstain: Whether retrieval is too unsure to draft from (low confidence or off topic).
        move: The conversational move the turn is, or holds beside a question; None if none.
    """

    text: str
    language: str
    client: str | None
    turn_vector: NDArray[np.float32]
    hits: tuple[SearchHit, ...]
    confidence: float
    abstain: bool
    move: MoveMatch | None = None

    @property
    def asks(self) -> bool:
        """Whether the turn asks something beyond a conversational move ("Hola" asks nothing).

        A turn that asks nothing is not searched and gets no answer, only the move's reply.
        """
        return self.move is None or not self.move.pure


@dataclass(frozen=True, slots=True)
class Candidate:
    """A suggestion a source proposes, before the pipeline gives it an id and the turn's language.

    Attributes:
        text: The reply to send; empty for a reference card (evidence only, nothing to send).
        kind: What kind of reply it is.
        confidence: In [0, 1].
        evidence: The KB passages it rests on, the one it quotes first.
        origin: Where it came from, when the kind alone does not say (memory, move, translation).
    """

    text: str
    kind: SuggestionKind
    confidence: float
    evidence: tuple[Evidence, ...] = ()
    origin: str | None = None


class SuggestionSource(Protocol):
    """One origin of suggestions (the KB, team memory, conversational moves)."""

    def propose(self, turn: TurnContext, earlier: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """Candidates for ``turn``, best first; empty when this source has nothing to offer.

        Args:
            turn: The turn and what the pipeline found for it.
            earlier: Candidates of the sources registered before this one, in order (so that a
                source can avoid repeating one of them).

        Returns:
            Zero or more candidates; the pipeline appends them after ``earlier``.
        """
        ...
