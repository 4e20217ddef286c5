"""The suggestion sources a turn consults, in order: a new source is a module and a line here."""

from __future__ import annotations

from copilot.settings import Settings
from copilot.suggest.kb_source import KbSource
from copilot.suggest.memory import TeamMemory
from copilot.suggest.memory_source import MemorySource
from copilot.suggest.move_source import MoveSource
from copilot.suggest.moves import MoveDetector
from copilot.suggest.sources import SuggestionSource


def default_sources(
    settings: Settings, moves: MoveDetector, memory: TeamMemory
) -> tuple[SuggestionSource, ...]:
    """The sources of the service, in the order their suggestions are shown.

    A move's reply comes first (an escalation cue must not hide below an answer), then the KB's
    answer, then the team's remembered reply.

    Args:
        settings: Where machine translation and the memory threshold are set.
        moves: The pipeline's move detector (the one that tags each turn's move).
        memory: The team memory the service feeds with accepted and written replies.
    """
    return (
        MoveSource(moves),
        KbSource(settings.machine_translation),
        MemorySource(memory, settings.memory_min_similarity),
    )
