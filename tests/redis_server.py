"""The Redis server of tests that need one: its URL, a per-run key prefix, and cleanup."""

from __future__ import annotations

import os
import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("COPILOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def fresh_prefix() -> str:
    """A key prefix no other test run uses."""
    return f"copilot-test-{uuid.uuid4().hex[:10]}"


async def client_or_skip() -> Redis:
    """A client of the test Redis (``decode_responses``, as the service makes it); skips the test
    when no server answers."""
    client = Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=3)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set COPILOT_TEST_REDIS_URL): {exc}")
    return client


async def drop_prefix(client: Redis, prefix: str) -> None:
    """Delete every key a test run wrote under its prefix."""
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=500)]
    if keys:
        await client.delete(*keys)
