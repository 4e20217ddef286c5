"""Conversation events shared by replicas through Redis pub/sub (channel ``<prefix>:events``).

A replica delivers an event to its own listeners at once, then publishes it; every other replica
reads it from the channel and delivers it to its listeners of that conversation. Pub/sub keeps no
history: a panel that reconnects gets the latest suggestions from the store, not missed events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets

from redis.asyncio import Redis
from redis.exceptions import RedisError

from copilot.errors import SharedStateError
from copilot.service.events import (
    Listener,
    Listeners,
    SessionEvent,
    event_from_json,
    event_to_json,
)

logger = logging.getLogger(__name__)

_RETRY_MAX_S = 5.0
_CLOSE_S = 5.0


class RedisBus:
    """The conversation bus of the port over one Redis channel.

    Args:
        client: A ``redis.asyncio`` client made with ``decode_responses=True``.
        prefix: The channel is ``<prefix>:events``.
    """

    def __init__(self, client: Redis, prefix: str) -> None:
        self._redis = client
        self.channel = f"{prefix}:events"
        self.replica = secrets.token_hex(6)
        """Tags what this replica publishes, so its reader skips its own events."""
        self._listeners = Listeners()
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._ever = False

    async def start(self) -> None:
        """Subscribe to the channel (waits until Redis confirmed it) and start reading it.

        Raises:
            SharedStateError: Redis does not answer.
        """
        self._reader = asyncio.create_task(self._read(), name="redis-bus")
        subscribed = asyncio.ensure_future(self._subscribed.wait())
        await asyncio.wait([self._reader, subscribed], return_when=asyncio.FIRST_COMPLETED)
        subscribed.cancel()
        if self._reader.done():
            try:
                self._reader.result()
            except RedisError as exc:
                raise SharedStateError(
                    f"redis event channel {self.channel} unavailable: {type(exc).__name__}"
                ) from exc

    async def close(self) -> None:
        """Stop reading the channel; a reader that does not stop within seconds is left behind.

        Shutdown must not hang on the Redis client: a CI run once hung for good in a test of this
        bus, the event loop idle; whatever the reader still awaits, shutdown now goes on.
        """
        if self._reader is not None:
            self._reader.cancel()
            done, _ = await asyncio.wait([self._reader], timeout=_CLOSE_S)
            if not done:
                logger.warning("event_channel_close_timeout after_s=%.1f", _CLOSE_S)

    def subscribe(self, conversation_id: str, listener: Listener) -> None:
        self._listeners.add(conversation_id, listener)

    def unsubscribe(self, conversation_id: str, listener: Listener) -> None:
        self._listeners.discard(conversation_id, listener)

    def listened(self) -> set[str]:
        return self._listeners.conversations()

    def connected(self) -> bool | None:
        """Whether the channel is subscribed (while not, this replica misses others' events)."""
        return self._subscribed.is_set()

    async def publish(
        self, conversation_id: str, event: SessionEvent, skip: Listener | None = None
    ) -> None:
        """Deliver to this replica's listeners, then to the others' through Redis.

        The event's state is already committed (log and store) when it is published, so a
        failed publish is logged, not raised: panels elsewhere miss one event, and get the
        latest suggestions again when they reconnect.
        """
        await self._listeners.deliver(conversation_id, event, skip)
        message = json.dumps(
            {"r": self.replica, "c": conversation_id, "e": event_to_json(event)},
            ensure_ascii=False,
        )
        try:
            await self._redis.publish(self.channel, message)
        except RedisError as exc:
            logger.warning(
                "event_publish_failed conversation_id=%s error=%s",
                conversation_id,
                type(exc).__name__,
            )

    async def _read(self) -> None:
        """Read the channel for ever, resubscribing after a lost connection."""
        delay = 0.1
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._subscribed.set()
                    self._ever = True
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._receive(message["data"])
            except RedisError as exc:
                if not self._ever:
                    raise
                self._subscribed.clear()
                logger.warning(
                    "event_channel_lost error=%s retry_s=%.1f", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    async def _receive(self, raw: str) -> None:
        try:
            body = json.loads(raw)
            if body["r"] == self.replica:
                return
            conversation_id: str = body["c"]
            event = event_from_json(body["e"])
        except (ValueError, KeyError, TypeError):  # another version's message: skip, go on
            logger.warning("event_unreadable channel=%s", self.channel)
            return
        # The reader's top level, like a socket's receive loop: one listener failing in a way
        # `Listeners.deliver` does not expect must not stop this replica hearing the others.
        try:
            await self._listeners.deliver(conversation_id, event)
        except Exception:
            logger.exception("event_delivery_failed conversation_id=%s", conversation_id)
