"""Thousands of generated REST requests: none gets a 5xx, and the service still answers after."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, example, given, note, seed, settings
from hypothesis import strategies as st

from copilot.domain import FeedbackAction, Speaker
from copilot.storage.analytics_records import GroupBy

logger = logging.getLogger(__name__)

REQUESTS = 2000
CONVERSATIONS = ("c-fuzz", "c-fuzz-2")
_SEED_TURN = {"turn_id": "seed", "speaker": "customer", "text": "me robaron la tarjeta oro"}

_any_char = st.characters(codec=None, exclude_categories=())  # lone surrogates included
_short_text = st.text(_any_char, max_size=12)


@dataclass(frozen=True, slots=True)
class _Request:
    """One generated request; ``url`` is already percent-encoded, ``content`` sent as is."""

    method: str
    url: str
    content: bytes | None = None
    content_type: str | None = None

    def __repr__(self) -> str:
        body = None if self.content is None else self.content[:300]
        return f"_Request({self.method} {self.url[:300]!r} {self.content_type!r} {body!r})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # Hypothesis prints a dataclass field by field: a 20,000-character body would flood it.
        p.text(repr(self))


def _quote(text: str) -> str:
    """Percent-encode every byte, a lone surrogate as the bytes of its (invalid) UTF-8 form.

    Starlette's test client decodes a path twice, so ``%2500`` in a generated id reaches the app
    as a NUL, as ``%00`` would from a real server.
    """
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# Values a client could mean, beside values no client should send.
_ids = st.sampled_from(["c-fuzz", "agent-7", "t1", "x.y:z@w_1-2", "a" * 128, "a" * 129])
_good_ids = _ids.filter(lambda i: len(i) <= 128) | st.from_regex(
    r"[A-Za-z0-9_.:@-]{1,128}", fullmatch=True
)
_long = st.integers(129, 20_000).map(lambda n: "é" * n)
# Up to 12 kB once percent-encoded: under what an HTTP server reads as one request line.
_long_in_url = st.integers(129, 2000).map(lambda n: "é" * n)
_odd_strings = st.one_of(
    _short_text,
    _long_in_url,
    st.sampled_from(["", " ", "\x00", "nul\x00", "%00", "../..", "'; DROP TABLE x;--", "\ud800"]),
)
_segments = _good_ids | _odd_strings

_numbers = st.one_of(
    st.integers(-(10**40), 10**40).map(str),
    st.integers(-5, 10_050).map(str),
    st.sampled_from(["2147483647", "2147483648", "9223372036854775808", "-9223372036854775809"]),
    st.sampled_from(["NaN", "-NaN", "nan", "Infinity", "-Infinity", "inf", "1e309", "1e-400"]),
    st.sampled_from(
        ["-0", "0x10", "1_000", " 1", "1.5", "1.0", "", "true", "null", "\u0663", "\uff11"]
    ),
    st.integers(5000, 10_000).map(lambda n: "9" * n),  # beyond int()'s 4,300-digit limit
)
_aware = st.datetimes(
    timezones=st.just(UTC) | st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))
)
_dates = st.one_of(
    st.datetimes().map(datetime.isoformat),
    _aware.map(datetime.isoformat),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
            "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
            *("0001-01-01", "9999-12-31T23:59:59.999999Z", "0000-00-00", "2024-02-30"),
            *("2024-13-01", "2024-01-01T24:00:00", "2024-01-01T00:00:00+25:00", "-2024-01-01"),
            *("+12024-01-01", "20240101", "2024-W01-1", "2024-01-01T00:00:00.1234567891234Z"),
            *("2024-01-01 00:00", "2024-01-01T00:00:00Z[Europe/Madrid]", "1700000000"),
            *("1700000000000", "99999999999999999999", "-99999999999", "1e10"),
        ]
    ),
)
_query_values = _numbers | _dates | _odd_strings | _ids

_RANGE = ("since", "until", "agent_id", "client", "language")
_LISTS = (*_RANGE, "limit", "offset")
_READS: dict[str, tuple[str, ...]] = {
    "/v1/suggestions": _LISTS,
    "/v1/feedback": _LISTS,
    "/v1/kb-gaps": _LISTS,
    "/v1/supervisor/rates": (*_RANGE, "group_by", "bucket"),
    "/v1/supervisor/latency": (*_RANGE, "bucket"),
    "/v1/supervisor/gaps": (*_RANGE, "limit"),
    "/v1/supervisor/most-edited": _LISTS,
    "/v1/supervisor/conversations": _LISTS,
    "/v1/supervisor/export": (*_LISTS, "format"),
    "/v1/kb/search": ("q", "q", "client", "language", "k"),
}
_PATH_READS = ("/v1/conversations/{}", "/v1/supervisor/conversations/{}", "/v1/kb/documents/{}")
_GOOD_VALUES: dict[str, st.SearchStrategy[str]] = {
    "since": _aware.map(datetime.isoformat),
    "until": _aware.map(datetime.isoformat),
    "agent_id": _ids,
    "client": st.sampled_from(["bank", "retail"]),
    "language": st.sampled_from(["es", "en", "pt"]),
    "limit": st.integers(1, 100).map(str),
    "offset": st.integers(0, 2**31 - 1).map(str),
    "group_by": st.sampled_from([g.value for g in GroupBy]),
    "bucket": st.sampled_from(["auto", "hour", "day"]),
    "format": st.sampled_from(["csv", "json"]),
    "q": st.sampled_from(["tarjeta robada", "troca de produto", "refund"]),
    "k": st.integers(1, 20).map(str),
}


@st.composite
def _query(draw: st.DrawFn, names: tuple[str, ...]) -> str:
    """A raw query string: known names (sometimes repeated) and strangers, good and odd values."""
    known = st.sampled_from(names).flatmap(
        lambda n: st.tuples(st.just(n), _GOOD_VALUES.get(n, _ids) | _query_values)
    )
    pairs = draw(st.lists(known | st.tuples(_short_text, _query_values), max_size=5))
    query = "&".join(f"{_quote(k)}={_quote(v)}" for k, v in pairs)
    return query + draw(st.sampled_from(["", "", "&%FF%FE=%C3%28", "&since=%ED%A0%80", "&&=&"]))


_query_reads = st.sampled_from(sorted(_READS)).flatmap(
    lambda path: _query(_READS[path]).map(lambda q: _Request("GET", f"{path}?{q}"))
)
_path_reads = st.builds(
    lambda template, segment, q: _Request("GET", template.format(_quote(segment)) + "?" + q),
    st.sampled_from(_PATH_READS),
    st.sampled_from(CONVERSATIONS) | _segments,
    _query(("limit",)),
)

# Arbitrary JSON, and JSON that strains a parser.
_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _short_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_short_text, inner, max_size=3),
    max_leaves=8,
)
_mutants: st.SearchStrategy[Any] = _json | st.integers(-(10**30), 10**30) | _long
_TURN_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "turn_id": _good_ids,
    "speaker": st.sampled_from([s.value for s in Speaker]),
    "text": st.sampled_from(["me robaron la tarjeta oro", "hola", "¿reembolso?"]) | _short_text,
}
_TURN_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "agent_id": _good_ids,
    "channel": st.sampled_from(["chat", "voice", "x" * 32]),
    "client": st.sampled_from(["bank", "retail", "x" * 100]) | st.none(),
    "language": st.sampled_from(["es", "en", "pt"]) | st.none(),
    "timestamp": _aware.map(datetime.isoformat) | st.none(),
}
_FEEDBACK_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "final_text": st.sampled_from(["", "Listo, bloqueada."]) | _short_text | _long,
    "reason": _short_text | st.none(),
}


def _feedback_fields(suggestion_ids: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "suggestion_id": st.sampled_from(suggestion_ids) | _good_ids,
        "action": st.sampled_from([a.value for a in FeedbackAction]),
    }


def _body(
    required: dict[str, st.SearchStrategy[Any]],
    optional: dict[str, st.SearchStrategy[Any]],
    *,
    mutate: bool,
) -> st.SearchStrategy[dict[str, Any]]:
    """A schema's body; mutated: each field good or not, some missing, strangers added."""
    if not mutate:
        return st.fixed_dictionaries(required, optional=optional)
    return st.fixed_dictionaries(
        {name: value | _mutants for name, value in required.items()},
        optional={
            **{name: value | _mutants for name, value in optional.items()},
            "extra": _json,
            "type": st.just("turn"),
        },
    )


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


_JSON_TYPES = ("application/json", "application/json; charset=utf-8", "application/vnd.x+json")
_OTHER_TYPES = (
    "text/plain",
    "text/plain; charset=latin-1",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded",
    "multipart/form-data",  # no boundary
    "multipart/form-data; boundary=x",
    "application/octet-stream",
    "",
    "\u00e9/\u00e9",
)
_NOT_UTF8 = (b"\xff\xfe\x00t", b"caf\xe9", b"\xc3\x28", b'{"text": "\xed\xa0\x80"}')


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()  # NaN, Infinity and \udXXX escapes pass


def _writes(suggestion_ids: list[str]) -> st.SearchStrategy[_Request]:
    """POSTs to a conversation's turns, feedback and end: valid, mutated, or not JSON at all."""
    feedback = _feedback_fields(suggestion_ids)
    valid = {
        "turns": _body(_TURN_FIELDS, _TURN_OPTIONAL, mutate=False),
        "feedback": _body(feedback, _FEEDBACK_OPTIONAL, mutate=False),
        "end": st.just({}),
    }
    json_texts = st.one_of(
        _body(_TURN_FIELDS, _TURN_OPTIONAL, mutate=True).map(_dumps),
        _body(feedback, _FEEDBACK_OPTIONAL, mutate=True).map(_dumps),
        _json.map(_dumps),
        st.integers(500, 100_000).map(lambda n: _nested(n).encode()),
        st.integers(4000, 10_000).map(lambda n: b'{"turn_id": ' + b"9" * n + b"}"),
        st.sampled_from([b"NaN", b"-Infinity", b'{"text": NaN}', b"[1e999]", b"{", b'"\\ud800"']),
    )
    fuzzed_bodies = st.one_of(
        st.tuples(json_texts, st.sampled_from(_JSON_TYPES)),
        st.tuples(json_texts | st.binary(max_size=64), st.sampled_from(_OTHER_TYPES)),
        st.tuples(
            st.binary(max_size=64) | st.sampled_from(_NOT_UTF8), st.sampled_from(_JSON_TYPES)
        ),
    )
    conversations = st.sampled_from(CONVERSATIONS)
    actions = st.sampled_from(sorted(valid))

    def post(conversation: str, action: str, body: bytes, content_type: str) -> _Request:
        url = f"/v1/conversations/{_quote(conversation)}/{action}"
        return _Request("POST", url, body, content_type or None)

    good = actions.flatmap(
        lambda a: st.builds(
            post, conversations, st.just(a), valid[a].map(_dumps), st.just("application/json")
        )
    )
    fuzzed = st.builds(
        lambda c, a, b: post(c, a, *b), conversations | _segments, actions, fuzzed_bodies
    )
    return st.one_of(good, fuzzed)


def _requests(suggestion_ids: list[str]) -> st.SearchStrategy[_Request]:
    """Writes, listings and reports in about equal shares, a few reads by id."""
    writes = _writes(suggestion_ids)
    return st.one_of(writes, writes, _query_reads, _query_reads, _path_reads)


# Server errors this test found once, sent on every run before the generated requests.
_FOUND = (
    _Request("GET", "/v1/feedback?since=0001-01-01T00%3A00%3A00%2B14%3A00"),  # year 0 in UTC
    _Request("GET", "/v1/supervisor/rates?since=2024-01-01T00%3A00%3A00&bucket=auto"),  # naive
    _Request("GET", "/v1/supervisor/latency?since=2024-01-01T00%3A00%3A00"),
    _Request("GET", "/v1/suggestions?agent_id=%00"),  # NUL: PostgreSQL refuses the query
    _Request("GET", "/v1/supervisor/conversations/%00"),
    _Request("GET", "/v1/conversations/%00"),
    _Request("POST", "/v1/conversations/%00/turns", _dumps(_SEED_TURN), "application/json"),
)


def _send(client: TestClient, request: _Request) -> int:
    # Header bytes go out as latin-1, as a real client sends them.
    headers = []
    if request.content_type is not None:
        headers.append((b"content-type", request.content_type.encode("latin-1")))
    response = client.request(request.method, request.url, content=request.content, headers=headers)
    return response.status_code


def _suggestion_ids(client: TestClient) -> list[str]:
    """Suggestions shown in the fuzzed conversations, so generated feedback can find them."""
    ids: list[str] = []
    for conversation in CONVERSATIONS:
        reply = client.post(f"/v1/conversations/{conversation}/turns", json=_SEED_TURN).json()
        ids += [s["id"] for s in reply["suggestions"]]
    return ids


def test_generated_requests_never_get_a_server_error(client: TestClient, fuzz_seed: int) -> None:
    logger.info("rest_fuzz seed=%d requests=%d (rerun with COPILOT_FUZZ_SEED)", fuzz_seed, REQUESTS)
    statuses: Counter[int] = Counter()

    @seed(fuzz_seed)
    @settings(
        max_examples=REQUESTS,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_requests(_suggestion_ids(client)))
    def send_one(request: _Request) -> None:
        note(f"{request!r} (fuzz seed {fuzz_seed})")  # the server's exception may come instead
        status = _send(client, request)
        statuses[status] += 1
        assert status < 500, f"{request!r} got {status} (fuzz seed {fuzz_seed})"

    for found in _FOUND:
        send_one = example(found)(send_one)
    send_one()
    logger.info("rest_fuzz statuses=%s", sorted(statuses.items()))
    assert statuses.total() >= REQUESTS, (statuses, fuzz_seed)
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.post("/v1/conversations/c-after-fuzz/turns", json=_SEED_TURN)
    assert response.status_code == 200, (response.text, fuzz_seed)
    assert response.json()["type"] == "suggestions"
