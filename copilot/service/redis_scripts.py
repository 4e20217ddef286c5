"""The Lua scripts that update a conversation's Redis state atomically (`redis_store`), and the
transaction that writes a conversation rebuilt from the logs.

Every script takes the conversation's keys in `redis_store._PARTS` order (KEYS[1] meta ... KEYS[8]
feedback) then the live set (KEYS[9]), and ARGV[1] the expiry in ms, ARGV[2] the time now (s),
ARGV[3] the conversation id; its own arguments follow. A conversation whose meta key is gone (not
started, ended or expired) answers -1 and is not recreated.
"""

from __future__ import annotations

import json

from redis.asyncio.client import Pipeline

from copilot.domain import Speaker
from copilot.service.conversations import ConversationHistory
from copilot.service.events import result_to_json, suggestion_to_json
from copilot.service.session import KEEP

_TOUCH_ALL = """
for i = 1, 8 do redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
redis.call('ZADD', KEYS[9], ARGV[2], ARGV[3])
"""

SEEN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('SISMEMBER', KEYS[2], ARGV[4])
"""
"""ARGV[4] turn id. 1 when seen, 0 when not."""

ADD_TURN = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
if redis.call('SADD', KEYS[2], ARGV[4]) == 0 then return {0} end
redis.call('RPUSH', KEYS[3], ARGV[5])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[8]), -1)
local seq
if ARGV[6] == '1' then
  seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  redis.call('HSET', KEYS[4], ARGV[4], ARGV[7])
  redis.call('RPUSH', KEYS[5], ARGV[4])
  while redis.call('LLEN', KEYS[5]) > tonumber(ARGV[9]) do
    redis.call('HDEL', KEYS[4], redis.call('LPOP', KEYS[5]))
  end
else
  seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
end
"""
    + _TOUCH_ALL
    + """
return {1, seq, redis.call('LRANGE', KEYS[3], 0, -1), redis.call('HGET', KEYS[1], 'info')}
"""
)
"""ARGV[4] turn id, [5] window item (JSON), [6] '1' for a customer turn, [7] its text, [8] window
size, [9] texts kept. {0} for a seen turn id; else {1, seq, window items, info JSON}."""

REMEMBER = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'latest', ARGV[4])
for i = 6, #ARGV, 2 do
  if redis.call('HSET', KEYS[6], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[7], ARGV[i])
  end
end
while redis.call('LLEN', KEYS[7]) > tonumber(ARGV[5]) do
  redis.call('HDEL', KEYS[6], redis.call('LPOP', KEYS[7]))
end
"""
    + _TOUCH_ALL
    + "return 1\n"
)
"""ARGV[4] the result (JSON), [5] suggestions kept, then pairs of suggestion id and JSON."""

MARK_FEEDBACK = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local added = redis.call('SADD', KEYS[8], ARGV[4])
"""
    + _TOUCH_ALL
    + "return added\n"
)
"""ARGV[4] suggestion id. 1 when noted now, 0 when noted already (-1: not live, nothing to
conflict with)."""

TOUCH = (
    """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
"""
    + _TOUCH_ALL
    + "return 1\n"
)
"""Push back the conversation's expiry."""

SCRIPTS = {
    "seen": SEEN,
    "add_turn": ADD_TURN,
    "remember": REMEMBER,
    "mark_feedback": MARK_FEEDBACK,
    "touch": TOUCH,
}
"""Each script by the name `redis_store` runs it under."""


def queue_history(tx: Pipeline, keys: list[str], history: ConversationHistory, window: int) -> None:
    """Queue the commands that write a logged conversation's state (after its keys were deleted)."""
    meta, seen, window_key, texts, texts_order, sugg, sugg_order, feedback, _ = keys
    customers = [(t, x) for t, s, x in history.turns if s is Speaker.CUSTOMER][-KEEP:]
    tx.hset(meta, "seq", sum(1 for _, s, _ in history.turns if s is Speaker.CUSTOMER))
    if history.turns:
        tx.sadd(seen, *(t for t, _, _ in history.turns))
        items = [json.dumps([s.value, x], ensure_ascii=False) for _, s, x in history.turns]
        tx.rpush(window_key, *items[-window:])
    if customers:
        tx.hset(texts, mapping=dict(customers))
        tx.rpush(texts_order, *(t for t, _ in customers))
    kept = history.suggestions[-KEEP:]
    if kept:
        tx.hset(
            sugg,
            mapping={
                s.suggestion_id: json.dumps(suggestion_to_json(s), ensure_ascii=False) for s in kept
            },
        )
        tx.rpush(sugg_order, *(s.suggestion_id for s in kept))
    if history.feedback_given:
        tx.sadd(feedback, *history.feedback_given)
    if history.latest is not None:
        tx.hset(meta, "latest", json.dumps(result_to_json(history.latest), ensure_ascii=False))
