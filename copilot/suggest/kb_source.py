"""The knowledge-base source: a grounded draft, a reference card, or a clarifying question."""

from __future__ import annotations

from collections.abc import Sequence

from copilot.domain import Evidence, SearchHit, SuggestionKind
from copilot.suggest.draft import clarifying_question, grounded_answer
from copilot.suggest.sources import Candidate, TurnContext

SNIPPET_CHARS = 400
"""Characters of a passage shown as evidence: enough to check a draft against, short on the wire."""


def evidence_of(hits: Sequence[SearchHit]) -> tuple[Evidence, ...]:
    """The hits as evidence, in rank order, with snippets of `SNIPPET_CHARS` and scores rounded
    to 4 decimals."""
    return tuple(
        Evidence(
            h.doc_id,
            h.title,
            h.section,
            h.text[:SNIPPET_CHARS],
            round(h.score, 4),
            h.source,
            h.language,
        )
        for h in hits
    )


class KbSource:
    """Answers a question from the retrieved passages, or asks one back when unsure.

    Below the calibrated threshold (or off topic) it abstains: a question back, no grounded draft.
    A draft is wholly in the customer's language (a passage in it, or an en<->pt machine
    translation) and quotes no note meant for the agent; when no passage can become one, the
    agent still gets the passages as a reference card.

    Args:
        translate: Whether a passage in another language may be machine-translated into a draft.
    """

    def __init__(self, translate: bool) -> None:
        self._translate = translate

    def propose(self, turn: TurnContext, earlier: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """One candidate (clarify, grounded or reference), or none for a turn that asks nothing
        or found no passage."""
        if not turn.asks:
            return ()
        evidence = evidence_of(turn.hits)
        if turn.abstain:
            question = clarifying_question(turn.hits, turn.language)
            return (Candidate(question, SuggestionKind.CLARIFY, turn.confidence, evidence),)
        draft = grounded_answer(turn.text, turn.hits, turn.language, translate=self._translate)
        if draft is not None:
            used = evidence_of(draft.used) + tuple(
                e for e in evidence if e.doc_id != draft.used[0].doc_id
            )
            note = (
                f"kb passage in {draft.source_language}, machine-translated"
                if draft.translated
                else None
            )
            return (Candidate(draft.text, SuggestionKind.GROUNDED, turn.confidence, used, note),)
        if turn.hits:
            # The empty text keeps Accept from sending anything.
            return (Candidate("", SuggestionKind.REFERENCE, turn.confidence, evidence),)
        return ()
