"""The conversation-state port: the same behaviour from the in-process adapter and the Redis one
(the real server at COPILOT_TEST_REDIS_URL, its own key prefix per test), then what only Redis
adds: expiry, and state, locks and events shared by two instances, as two replicas share them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from copilot.domain import DialogueTurn, Evidence, Speaker, Suggestion, SuggestionKind
from copilot.errors import NotStartedError, SharedStateError
from copilot.privacy.redact import Redactor
from copilot.service.conversations import (
    ConversationBus,
    ConversationHistory,
    ConversationInfo,
    ConversationStore,
)
from copilot.service.events import SessionEvent, TranscriptUpdate, TurnLogged, TurnResult
from copilot.service.redis_bus import RedisBus
from copilot.service.redis_store import RedisConversations
from copilot.service.session import LocalConversations
from copilot.service.state import open_conversations
from copilot.settings import Settings
from tests.processes import free_port
from tests.redis_server import REDIS_URL, client_or_skip, drop_prefix, fresh_prefix

pytestmark = pytest.mark.anyio

WINDOW = 4
IDLE_S = 60.0
INFO = ConversationInfo("c1", "ana", "chat", "bank", "es")


@pytest.fixture
def anyio_backend() -> str:
    """Run on asyncio (the service's loop)."""
    return "asyncio"


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    """A client of the test Redis and a key prefix of this test's own (dropped afterwards)."""
    client = await client_or_skip()
    prefix = fresh_prefix()
    yield client, prefix
    await drop_prefix(client, prefix)
    await client.aclose()


Replica = Callable[..., RedisConversations]


@pytest.fixture
def replica(redis: tuple[Redis, str]) -> Replica:
    """Makes one more store on the test's Redis and prefix: another replica of one service."""
    client, prefix = redis

    def make(lock_timeout_s: float = 5.0, prefix_: str | None = None) -> RedisConversations:
        return RedisConversations(
            client, prefix_ or prefix, WINDOW, IDLE_S, lock_timeout_s, Redactor()
        )

    return make


@pytest.fixture(params=["local", "redis"])
def store(request: pytest.FixtureRequest) -> ConversationStore:
    """Each adapter in turn."""
    if request.param == "local":
        return LocalConversations(WINDOW, IDLE_S)
    make: Replica = request.getfixturevalue("replica")
    return make()


def _suggestion(sid: str, turn_id: str = "t1") -> Suggestion:
    evidence = Evidence("doc-1", "Tarjeta robada", "Bloqueo", "Llame al 0800…", 0.91, "a.md", "es")
    return Suggestion(
        sid, turn_id, "Bloquee su tarjeta", SuggestionKind.GROUNDED, 0.8, "es", (evidence,)
    )


def _result(turn_id: str, *sids: str) -> TurnResult:
    return TurnResult(turn_id, "es", False, 12.5, tuple(_suggestion(s, turn_id) for s in sids))


async def test_add_turn_numbers_customer_turns_and_refuses_a_seen_id(
    store: ConversationStore,
) -> None:
    await store.open(INFO, None)
    first = await store.add_turn("c1", "t1", Speaker.CUSTOMER, "hola")
    assert first is not None
    assert (first.seq, first.client, first.language) == (1, "bank", "es")
    assert first.window == (DialogueTurn(Speaker.CUSTOMER, "hola"),)
    agent = await store.add_turn("c1", "a1", Speaker.AGENT, "buenos días")
    assert agent is not None
    assert agent.seq == 1
    second = await store.add_turn("c1", "t2", Speaker.CUSTOMER, "me robaron la tarjeta")
    assert second is not None
    assert second.seq == 2
    assert [t.text for t in second.window] == ["hola", "buenos días", "me robaron la tarjeta"]
    assert await store.add_turn("c1", "t1", Speaker.CUSTOMER, "hola otra vez") is None
    assert await store.seen("c1", "t1")
    assert not await store.seen("c1", "t9")
    assert await store.current("c1", 2)
    assert not await store.current("c1", 1)
    assert await store.turn_text("c1", "t2") == "me robaron la tarjeta"
    assert await store.turn_text("c1", "a1") is None  # agent turns are not kept for learning


async def test_the_window_keeps_the_last_turns(store: ConversationStore) -> None:
    await store.open(INFO, None)
    added = None
    for n in range(WINDOW + 3):
        added = await store.add_turn("c1", f"t{n}", Speaker.CUSTOMER, f"turn {n}")
    assert added is not None
    assert [t.text for t in added.window] == [f"turn {n}" for n in range(3, WINDOW + 3)]


async def test_a_conversation_not_started_is_refused(store: ConversationStore) -> None:
    assert await store.info("nobody") is None
    with pytest.raises(NotStartedError):
        await store.seen("nobody", "t1")
    with pytest.raises(NotStartedError):
        await store.add_turn("nobody", "t1", Speaker.CUSTOMER, "hola")
    assert await store.latest("nobody") is None


async def test_remembered_results_answer_reconnects_and_feedback_lookups(
    store: ConversationStore,
) -> None:
    await store.open(INFO, None)
    await store.add_turn("c1", "t1", Speaker.CUSTOMER, "me robaron la tarjeta")
    result = _result("t1", "s1", "s2")
    await store.remember("c1", result)
    assert await store.latest("c1") == result
    assert await store.suggestion("c1", "s2") == result.suggestions[1]
    assert await store.suggestion("c1", "s9") is None
    assert not await store.feedback_given("c1", "s1")
    assert await store.mark_feedback("c1", "s1")
    assert not await store.mark_feedback("c1", "s1")
    assert await store.feedback_given("c1", "s1")


async def test_open_keeps_a_live_conversation_and_takes_its_new_info(
    store: ConversationStore,
) -> None:
    await store.open(INFO, None)
    await store.add_turn("c1", "t1", Speaker.CUSTOMER, "hola")
    moved = ConversationInfo("c1", "bea", "voice", "bank", "es")
    await store.open(moved, None)
    assert await store.info("c1") == moved
    assert await store.seen("c1", "t1")


async def test_open_with_history_rebuilds_the_logged_state(store: ConversationStore) -> None:
    await store.open(INFO, None)
    await store.add_turn("c1", "stale", Speaker.CUSTOMER, "not logged")
    history = ConversationHistory(
        turns=[
            ("t1", Speaker.CUSTOMER, "hola"),
            ("a1", Speaker.AGENT, "buenos días"),
            ("t2", Speaker.CUSTOMER, "me robaron la tarjeta"),
        ],
        suggestions=[_suggestion("s0", "t1"), *_result("t2", "s1").suggestions],
        feedback_given={"s0"},
        latest=_result("t2", "s1"),
    )
    await store.open(INFO, history)
    assert not await store.seen("c1", "stale")
    assert await store.seen("c1", "a1")
    assert await store.current("c1", 2)
    assert await store.latest("c1") == history.latest
    assert await store.suggestion("c1", "s0") == history.suggestions[0]
    assert await store.feedback_given("c1", "s0")
    assert await store.turn_text("c1", "t2") == "me robaron la tarjeta"
    added = await store.add_turn("c1", "t3", Speaker.CUSTOMER, "¿y ahora?")
    assert added is not None
    assert added.seq == 3
    assert [t.text for t in added.window][-2:] == ["me robaron la tarjeta", "¿y ahora?"]


async def test_an_ended_conversation_is_forgotten(store: ConversationStore) -> None:
    await store.open(INFO, None)
    await store.add_turn("c1", "t1", Speaker.CUSTOMER, "hola")
    assert await store.count() == 1
    await store.end("c1")
    assert await store.info("c1") is None
    assert await store.count() == 0
    await store.open(INFO, None)
    assert not await store.seen("c1", "t1")


class _Heard:
    """A listener that keeps what it hears."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: SessionEvent) -> None:
        self.events.append(event)
        self.arrived.set()

    async def until(self, n: int, timeout_s: float = 5.0) -> list[SessionEvent]:
        deadline = time.monotonic() + timeout_s
        while len(self.events) < n and time.monotonic() < deadline:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                break
        return self.events


async def _published(bus: ConversationBus, origin: _Heard) -> list[SessionEvent]:
    logged = TurnLogged("t1", Speaker.CUSTOMER, "hola", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    speech = TranscriptUpdate("v1", Speaker.AGENT, "buenos", False, 0.0, 1.25)
    events: list[SessionEvent] = [logged, speech, _result("t1", "s1")]
    await bus.publish("c1", logged, skip=origin)
    await bus.publish("c1", speech)
    await bus.publish("c1", events[2])
    await bus.publish("c2", speech)  # another conversation: nobody here listens
    return events


async def test_the_bus_delivers_to_listeners_but_the_origin() -> None:
    bus = LocalConversations(WINDOW)
    origin, other = _Heard(), _Heard()
    bus.subscribe("c1", origin)
    bus.subscribe("c1", other)
    events = await _published(bus, origin)
    assert other.events == events
    assert origin.events == events[1:]
    bus.unsubscribe("c1", other)
    assert bus.listened() == {"c1"}


async def test_every_key_of_a_conversation_expires_after_idle_s(
    replica: Replica, redis: tuple[Redis, str]
) -> None:
    client, _ = redis
    store = replica()
    await store.open(INFO, None)
    await store.add_turn("c1", "t1", Speaker.CUSTOMER, "hola")
    await store.remember("c1", _result("t1", "s1"))
    await store.mark_feedback("c1", "s1")
    keys = store.keys("c1")[:-1]
    ttls = [await client.pttl(key) for key in keys]
    assert all(0 < ttl <= IDLE_S * 1000 for ttl in ttls), dict(zip(keys, ttls, strict=True))


async def test_two_replicas_share_idempotency_and_supersession(replica: Replica) -> None:
    a, b = replica(), replica()
    await a.open(INFO, None)
    first = await a.add_turn("c1", "t1", Speaker.CUSTOMER, "hola")
    assert first is not None
    assert await b.info("c1") == INFO
    assert await b.seen("c1", "t1")
    assert await b.add_turn("c1", "t1", Speaker.CUSTOMER, "hola") is None
    newer = await b.add_turn("c1", "t2", Speaker.CUSTOMER, "me robaron la tarjeta")
    assert newer is not None
    assert not await a.current("c1", first.seq)  # A's pending turn went stale on B
    await a.remember("c1", _result("t2", "s1"))
    assert await b.suggestion("c1", "s1") is not None
    assert await b.mark_feedback("c1", "s1")
    assert not await a.mark_feedback("c1", "s1")


async def test_concurrent_turns_on_two_replicas_are_added_atomically(replica: Replica) -> None:
    a, b = replica(), replica()
    await a.open(INFO, None)
    same = await asyncio.gather(
        *(r.add_turn("c1", "t1", Speaker.CUSTOMER, "hola") for r in [a, b] * 10)
    )
    assert sum(added is not None for added in same) == 1
    distinct = await asyncio.gather(
        *(r.add_turn("c1", f"u{n}", Speaker.CUSTOMER, "¿hola?") for n, r in enumerate([a, b] * 10))
    )
    assert sorted(added.seq for added in distinct if added is not None) == list(range(2, 22))


async def test_the_turn_lock_orders_replicas(replica: Replica) -> None:
    a, b = replica(), replica()
    order: list[str] = []

    async def hold(store: RedisConversations, name: str, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        async with store.processing("c1"):
            order.append(f"{name} in")
            await asyncio.sleep(0.2)
            order.append(f"{name} out")

    await asyncio.gather(hold(a, "a", 0.0), hold(b, "b", 0.05))
    assert order == ["a in", "a out", "b in", "b out"]


async def test_a_lock_left_by_a_dead_replica_expires(
    replica: Replica, redis: tuple[Redis, str]
) -> None:
    client, prefix = redis
    # A replica killed while it held the turn lock: the key stays, nobody will release it.
    await client.set(f"{prefix}:conv:{{c1}}:lock", "dead-replica", px=500)
    started = time.monotonic()
    async with replica(lock_timeout_s=0.5).processing("c1"):
        waited = time.monotonic() - started
    assert 0.3 < waited < 1.5


async def test_events_reach_listeners_on_another_replica(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    bus_a, bus_b = RedisBus(client, prefix), RedisBus(client, prefix)
    elsewhere = RedisBus(client, fresh_prefix())
    for bus in (bus_a, bus_b, elsewhere):
        await bus.start()
        assert bus.connected()
    try:
        origin, local, remote, stranger = _Heard(), _Heard(), _Heard(), _Heard()
        bus_a.subscribe("c1", origin)
        bus_a.subscribe("c1", local)
        bus_b.subscribe("c1", remote)
        elsewhere.subscribe("c1", stranger)
        events = await _published(bus_a, origin)
        assert await remote.until(3) == events  # in order, equal after the trip
        assert local.events == events  # delivered here once, not again from Redis
        assert origin.events == events[1:]
        await asyncio.sleep(0.2)
        assert stranger.events == []  # another prefix: another service
        assert len(remote.events) == 3
    finally:
        for bus in (bus_a, bus_b, elsewhere):
            await bus.close()


async def test_readiness_and_live_count(replica: Replica) -> None:
    a, b = replica(), replica()
    assert await a.ping()
    await a.open(INFO, None)
    await b.open(ConversationInfo("c2", "bea", "chat", None, None), None)
    assert await a.count() == 2
    assert await replica(prefix_=fresh_prefix()).count() == 0


async def test_a_redis_that_does_not_answer_fails_the_start(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0", _env_file=None
    )
    async with AsyncExitStack() as stack:
        with pytest.raises(SharedStateError, match="redis does not answer"):
            await open_conversations(settings, stack, Redactor())


async def test_without_redis_the_state_stays_in_process(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        store, bus = await open_conversations(
            Settings(data_dir=tmp_path, _env_file=None), stack, Redactor()
        )
    assert isinstance(store, LocalConversations)
    assert bus is store
    assert bus.connected() is None
    assert await store.ping() is None


async def test_redis_keeps_suggestions_redacted(replica: Replica, redis: tuple[Redis, str]) -> None:
    client, _ = redis
    store = replica()
    await store.open(INFO, None)
    await store.add_turn("c1", "t1", Speaker.CUSTOMER, "mi correo es [EMAIL]")
    leaky = replace(
        _suggestion("s1"),
        text="Le escribimos a ana.perez@example.com",
        evidence=(replace(_suggestion("s1").evidence[0], snippet="tarjeta 4111 1111 1111 1111"),),
    )
    await store.remember("c1", TurnResult("t1", "es", False, 1.0, (leaky,)))
    kept = await store.suggestion("c1", "s1")
    assert kept is not None
    assert kept.text == "Le escribimos a [EMAIL]"
    stored = [str(v) for key in store.keys("c1")[:-1] for v in await _values(client, key)]
    assert not [v for v in stored if "ana.perez" in v or "4111" in v], stored


async def _values(client: Redis, key: str) -> list[object]:
    kind = await client.type(key)
    if kind == "hash":
        return list((await client.hgetall(key)).values())
    if kind == "list":
        return list(await client.lrange(key, 0, -1))
    if kind == "set":
        return list(await client.smembers(key))
    return []


async def test_idle_conversations_expire_but_not_those_a_panel_listens_to(
    tmp_path: Path, redis: tuple[Redis, str]
) -> None:
    _, prefix = redis
    settings = Settings(
        data_dir=tmp_path,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        session_idle_s=1.0,
        _env_file=None,
    )
    async with AsyncExitStack() as stack:
        store, bus = await open_conversations(settings, stack, Redactor())
        for cid in ("watched", "idle"):
            await store.open(ConversationInfo(cid, "ana", "chat", None, None), None)
        bus.subscribe("watched", _Heard())
        await asyncio.sleep(2.0)
        assert await store.info("idle") is None
        assert await store.info("watched") is not None
        assert await store.count() == 1
