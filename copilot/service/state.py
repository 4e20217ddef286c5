"""Choose the conversation-state adapter from settings (in process memory, for now the only one)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from copilot.service.conversations import ConversationBus, ConversationStore
from copilot.service.session import LocalConversations
from copilot.settings import Settings


async def open_conversations(
    settings: Settings, stack: AsyncExitStack
) -> tuple[ConversationStore, ConversationBus]:
    """The conversation store and bus the service uses; their teardown goes on ``stack``."""
    local = LocalConversations(settings.dialogue_turns * 2, settings.session_idle_s)
    return local, local
