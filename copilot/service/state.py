"""Choose the conversation-state adapter from settings: in process memory, or Redis when
``redis_url`` is set (several replicas)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack

from redis.asyncio import Redis
from redis.exceptions import RedisError

from copilot.errors import CopilotError, SharedStateError
from copilot.privacy.redact import Redactor
from copilot.service.conversations import ConversationBus, ConversationStore
from copilot.service.redis_bus import RedisBus
from copilot.service.redis_store import RedisConversations
from copilot.service.session import LocalConversations
from copilot.settings import Settings

logger = logging.getLogger(__name__)

_KEEP_ALIVE_MAX_S = 60.0


async def open_conversations(
    settings: Settings, stack: AsyncExitStack, redactor: Redactor
) -> tuple[ConversationStore, ConversationBus]:
    """The conversation store and bus the service uses; their teardown goes on ``stack``.

    ``redactor`` masks the suggestions Redis keeps (process memory keeps them as sent).

    Raises:
        SharedStateError: Redis is configured but does not answer.
    """
    if settings.redis_url is None:
        local = LocalConversations(settings.dialogue_turns * 2, settings.session_idle_s)
        return local, local
    client = Redis.from_url(
        settings.redis_url.get_secret_value(),
        decode_responses=True,
        socket_connect_timeout=settings.write_timeout_s,
        health_check_interval=30,
    )
    stack.push_async_callback(client.aclose)
    try:
        await client.ping()
    except RedisError as exc:
        raise SharedStateError(f"redis does not answer: {type(exc).__name__}") from exc
    store = RedisConversations(
        client,
        settings.redis_prefix,
        settings.dialogue_turns * 2,
        settings.session_idle_s,
        settings.redis_lock_timeout_s,
        redactor,
    )
    bus = RedisBus(client, settings.redis_prefix)
    await bus.start()
    stack.push_async_callback(bus.close)
    every_s = min(settings.session_idle_s / 4, _KEEP_ALIVE_MAX_S)
    keeper = asyncio.create_task(_keep_alive(store, bus, every_s), name="redis-keep-alive")
    stack.push_async_callback(_cancel, keeper)
    logger.info("conversation_state backend=redis prefix=%s", settings.redis_prefix)
    return store, bus


async def _keep_alive(store: RedisConversations, bus: RedisBus, every_s: float) -> None:
    """Conversations a panel here listens to do not expire while it waits in silence."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await store.touch(bus.listened())
        except CopilotError as exc:
            logger.warning("conversation_keep_alive_failed error=%s", exc)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
