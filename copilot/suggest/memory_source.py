"""The team-memory source: a reply the team sent for a similar customer turn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

from rapidfuzz import fuzz

from copilot.domain import SuggestionKind
from copilot.suggest.memory import TeamMemory
from copilot.suggest.sources import Candidate, TurnContext

SAME_AS_DRAFT = 90.0
"""rapidfuzz ratio from which a remembered reply repeats the grounded draft and is left out."""


class MemorySource:
    """Suggests the most similar remembered reply of the turn's client and language.

    Args:
        memory: The team's remembered replies (shared with the service that feeds it).
        min_similarity: Cosine between customer turns below which nothing is suggested.
    """

    def __init__(self, memory: TeamMemory, min_similarity: float) -> None:
        self._memory = memory
        self._min_similarity = min_similarity

    def propose(self, turn: TurnContext, earlier: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """The remembered reply, unless the turn asks nothing, none is similar enough, or it
        repeats an earlier grounded draft."""
        if not turn.asks:
            return ()
        match = self._memory.best(
            turn.turn_vector, turn.client, turn.language, self._min_similarity
        )
        if match is None:
            return ()
        reply = match.item.reply_text
        if any(
            c.kind is SuggestionKind.GROUNDED and fuzz.ratio(reply, c.text) >= SAME_AS_DRAFT
            for c in earlier
        ):
            return ()
        origin = f"team memory: {match.item.agent_id}, suggestion {match.item.suggestion_id}"
        sent_at = match.item.sent_at
        if sent_at is not None:
            # The panel shows the agent and the date; the origin column holds 512 characters.
            # Logged times are UTC; SQLite gives them back without their zone.
            aware = sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)
            origin += f", at {aware.isoformat(timespec='seconds')}"
        return (Candidate(reply, SuggestionKind.MEMORY, round(match.similarity, 3), (), origin),)
