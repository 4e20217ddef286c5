"""The conversational-move source: the reply to a greeting, thanks or closing; escalation cues."""

from __future__ import annotations

from collections.abc import Sequence

from copilot.domain import SuggestionKind
from copilot.suggest.moves import MoveDetector
from copilot.suggest.sources import Candidate, TurnContext


class MoveSource:
    """Suggests the move's reply in the customer's language, when the turn is or holds a move.

    Registered first: an escalation beside a question must come before the KB's answer.

    Args:
        moves: The detector whose replies are suggested (the one that found the turn's move).
    """

    def __init__(self, moves: MoveDetector) -> None:
        self._moves = moves

    def propose(self, turn: TurnContext, earlier: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """The move's reply (an escalation cue for supervisor requests and anger), or none."""
        move = turn.move
        if move is None:
            return ()
        kind = SuggestionKind.ESCALATE if move.escalate else SuggestionKind.MOVE
        reply = self._moves.reply(move.move, turn.language)
        return (Candidate(reply, kind, move.score, (), f"move: {move.move}"),)
