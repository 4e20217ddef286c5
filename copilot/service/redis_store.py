"""Conversation state in Redis, shared by the replicas of one service.

Keys of conversation ``C`` under prefix ``P`` (one hash slot each, through the ``{C}`` tag)::

    P:conv:{C}:meta      hash: info (JSON), seq (customer sequence), latest (JSON TurnResult)
    P:conv:{C}:seen      set of turn ids
    P:conv:{C}:window    list of [speaker, text] (JSON), the last ``window_turns``
    P:conv:{C}:texts     hash turn id -> customer turn text;  :texts_order  list (oldest first)
    P:conv:{C}:sugg      hash suggestion id -> JSON;          :sugg_order   list (oldest first)
    P:conv:{C}:feedback  set of suggestion ids with feedback
    P:conv:{C}:lock      the turn lock;  P:conv:{C}:start  the start lock
    P:live               sorted set: conversation id -> time of its last write

Every write is one Lua script (or a MULTI transaction), so it is atomic, and it pushes the expiry
of all the conversation's keys to ``idle_s`` from now.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from copilot.domain import DialogueTurn, Speaker, Suggestion
from copilot.errors import NotStartedError, SharedStateError
from copilot.privacy.redact import Redactor
from copilot.service.conversations import AddedTurn, ConversationHistory, ConversationInfo
from copilot.service.events import (
    TurnResult,
    result_from_json,
    result_to_json,
    suggestion_from_json,
    suggestion_to_json,
)
from copilot.service.redis_scripts import SCRIPTS, queue_history
from copilot.service.session import KEEP

logger = logging.getLogger(__name__)

_PARTS = ("meta", "seen", "window", "texts", "texts_order", "sugg", "sugg_order", "feedback")


class RedisConversations:
    """The conversation store of the port, in Redis (see the module docstring for the keys).

    Args:
        client: A ``redis.asyncio`` client made with ``decode_responses=True``.
        prefix: Starts every key.
        window_turns: Turns the dialogue window keeps.
        idle_s: Seconds after its last write that a conversation's keys expire.
        lock_timeout_s: Seconds after which a conversation lock held by a dead replica expires.
        redactor: Masks personal data in the suggestions kept (turn texts come redacted), as in
            the log: Redis keeps what it holds on disk.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str,
        window_turns: int,
        idle_s: float,
        lock_timeout_s: float,
        redactor: Redactor,
    ) -> None:
        self._redis = client
        self._redactor = redactor
        self._prefix = prefix
        self._window = window_turns
        self._ttl_ms = max(1, round(idle_s * 1000))
        self._idle_s = idle_s
        self._lock_s = lock_timeout_s
        self._live = f"{prefix}:live"
        self._local: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._scripts = {name: client.register_script(body) for name, body in SCRIPTS.items()}

    def keys(self, conversation_id: str) -> list[str]:
        """The conversation's state keys, in the order the scripts take them, then ``P:live``."""
        base = f"{self._prefix}:conv:{{{conversation_id}}}"
        return [f"{base}:{part}" for part in _PARTS] + [self._live]

    @contextmanager
    def _errors(self, what: str, conversation_id: str) -> Iterator[None]:
        try:
            yield
        except RedisError as exc:
            raise SharedStateError(
                f"redis {what} failed for conversation {conversation_id}: {type(exc).__name__}"
            ) from exc

    async def _run(self, name: str, conversation_id: str, *args: str | int | float) -> Any:
        keys = self.keys(conversation_id)
        argv = [self._ttl_ms, time.time(), conversation_id, *args]
        with self._errors(name, conversation_id):
            return await self._scripts[name](keys=keys, args=argv)

    @asynccontextmanager
    async def _lock(self, conversation_id: str, part: str) -> AsyncIterator[None]:
        name = f"{self._prefix}:conv:{{{conversation_id}}}:{part}"
        # Polled every 10 ms; waits for a dead holder's lock to expire, and somewhat more.
        lock = self._redis.lock(
            name, timeout=self._lock_s, sleep=0.01, blocking_timeout=self._lock_s * 2
        )
        with self._errors(f"{part} lock", conversation_id):
            acquired = await lock.acquire()
        if not acquired:
            raise SharedStateError(
                f"conversation {conversation_id} {part} lock not acquired in {self._lock_s * 2} s"
            )
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:  # it expired: held longer than its timeout (logged, not fatal)
                logger.warning(
                    "conversation_lock_expired conversation_id=%s lock=%s timeout_s=%.1f",
                    conversation_id,
                    part,
                    self._lock_s,
                )
            except RedisError:
                logger.warning(
                    "conversation_lock_release_failed conversation_id=%s", conversation_id
                )

    @asynccontextmanager
    async def _held(self, conversation_id: str, part: str) -> AsyncIterator[None]:
        # Waiters on this replica queue on a local lock first: one of them polls Redis, not all.
        local = self._local.get((conversation_id, part))
        if local is None:
            local = self._local[(conversation_id, part)] = asyncio.Lock()
        async with local, self._lock(conversation_id, part):
            yield

    def starting(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        return self._held(conversation_id, "start")

    def processing(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        return self._held(conversation_id, "lock")

    async def info(self, conversation_id: str) -> ConversationInfo | None:
        meta = self.keys(conversation_id)[0]
        with self._errors("info", conversation_id):
            raw = await self._redis.hget(meta, "info")
        return _info(conversation_id, str(raw)) if raw is not None else None

    async def open(self, info: ConversationInfo, history: ConversationHistory | None) -> None:
        cid = info.conversation_id
        keys = self.keys(cid)
        meta, live = keys[0], keys[-1]
        body = json.dumps(
            [info.agent_id, info.channel, info.client, info.language], ensure_ascii=False
        )
        with self._errors("open", cid):
            async with self._redis.pipeline(transaction=True) as tx:
                if history is not None or not await self._redis.exists(meta):
                    tx.delete(*keys[:-1])
                    tx.hset(meta, mapping={"seq": 0})
                if history is not None:
                    queue_history(tx, keys, history, self._window)
                tx.hset(meta, "info", body)
                for key in keys[:-1]:
                    tx.pexpire(key, self._ttl_ms)
                tx.zadd(live, {cid: time.time()})
                await tx.execute()

    async def seen(self, conversation_id: str, turn_id: str) -> bool:
        found = await self._run("seen", conversation_id, turn_id)
        if found < 0:
            raise NotStartedError(f"conversation {conversation_id} has not been started")
        return bool(found)

    async def add_turn(
        self, conversation_id: str, turn_id: str, speaker: Speaker, text: str
    ) -> AddedTurn | None:
        item = json.dumps([speaker.value, text], ensure_ascii=False)
        customer = int(speaker is Speaker.CUSTOMER)
        reply = await self._run(
            "add_turn", conversation_id, turn_id, item, customer, text, self._window, KEEP
        )
        if reply[0] < 0:
            raise NotStartedError(f"conversation {conversation_id} has not been started")
        if reply[0] == 0:
            return None
        _, seq, items, raw_info = reply
        info = _info(conversation_id, raw_info)
        window = tuple(DialogueTurn(Speaker(s), t) for s, t in map(json.loads, items))
        return AddedTurn(int(seq), window, info.client, info.language)

    async def current(self, conversation_id: str, seq: int) -> bool:
        meta = self.keys(conversation_id)[0]
        with self._errors("current", conversation_id):
            now = await self._redis.hget(meta, "seq")
        return now is None or int(now) == seq

    def _clean(self, s: Suggestion) -> Suggestion:
        clean = self._redactor.redact
        snippets = tuple(replace(e, snippet=clean(e.snippet).text) for e in s.evidence)
        return replace(s, text=clean(s.text).text, evidence=snippets)

    async def remember(self, conversation_id: str, result: TurnResult) -> None:
        result = replace(result, suggestions=tuple(self._clean(s) for s in result.suggestions))
        pairs: list[str] = []
        for s in result.suggestions:
            pairs += [s.suggestion_id, json.dumps(suggestion_to_json(s), ensure_ascii=False)]
        latest = json.dumps(result_to_json(result), ensure_ascii=False)
        await self._run("remember", conversation_id, latest, KEEP, *pairs)

    async def latest(self, conversation_id: str) -> TurnResult | None:
        meta = self.keys(conversation_id)[0]
        with self._errors("latest", conversation_id):
            raw = await self._redis.hget(meta, "latest")
        return result_from_json(json.loads(raw)) if raw else None

    async def suggestion(self, conversation_id: str, suggestion_id: str) -> Suggestion | None:
        key = self.keys(conversation_id)[5]
        with self._errors("suggestion", conversation_id):
            raw = await self._redis.hget(key, suggestion_id)
        return suggestion_from_json(json.loads(raw)) if raw else None

    async def feedback_given(self, conversation_id: str, suggestion_id: str) -> bool:
        key = self.keys(conversation_id)[7]
        with self._errors("feedback_given", conversation_id):
            return bool(await self._redis.sismember(key, suggestion_id))

    async def mark_feedback(self, conversation_id: str, suggestion_id: str) -> bool:
        return bool(await self._run("mark_feedback", conversation_id, suggestion_id))

    async def turn_text(self, conversation_id: str, turn_id: str) -> str | None:
        key = self.keys(conversation_id)[3]
        with self._errors("turn_text", conversation_id):
            raw = await self._redis.hget(key, turn_id)
        return str(raw) if raw is not None else None

    async def end(self, conversation_id: str) -> None:
        keys = self.keys(conversation_id)
        with self._errors("end", conversation_id):
            async with self._redis.pipeline(transaction=True) as tx:
                tx.delete(*keys[:-1])
                tx.zrem(keys[-1], conversation_id)
                await tx.execute()

    async def touch(self, conversation_ids: set[str]) -> None:
        """Push back the expiry of live conversations (those a panel on this replica listens to
        outlive ``idle_s`` of silence, as they do in process memory)."""
        for cid in conversation_ids:
            await self._run("touch", cid)

    async def count(self) -> int:
        with self._errors("count", "*"):
            async with self._redis.pipeline(transaction=True) as tx:
                tx.zremrangebyscore(self._live, "-inf", time.time() - self._idle_s)
                tx.zcard(self._live)
                _, n = await tx.execute()
        return int(n)

    async def ping(self) -> bool | None:
        try:
            return bool(await self._redis.ping())
        except RedisError:
            return False


def _info(conversation_id: str, raw: str) -> ConversationInfo:
    agent_id, channel, client, language = json.loads(raw)
    return ConversationInfo(conversation_id, agent_id, channel, client, language)
