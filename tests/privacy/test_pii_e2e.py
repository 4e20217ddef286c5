"""Every value of the PII corpus, posted to the real service, leaves no raw value in the database
file, its WAL, the log records, the supervisor export or the conversation reads.

Each value goes in once in an agent turn holding one sentence of every kind (agent turns are only
redacted and logged, far cheaper than customer turns, which run retrieval and drafting); a sample
of the values goes in again as customer turns, and packs of them as the agents' edited replies.
"""

from __future__ import annotations

import collections
import logging
import random
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from copilot.settings import Settings
from tests.privacy.corpus import KINDS, Sample, build, corpus_seed, digits

logger = logging.getLogger(__name__)
PER_KIND = 1000
N_CONVERSATIONS = 20
N_CUSTOMER_TURNS = 300
WORKERS = 6
# Shortest needle: a 7-character value, or 7 digits.
PREFIX = 7


@dataclass(frozen=True, slots=True)
class _Turn:
    turn_id: str
    speaker: str
    samples: tuple[Sample, ...]

    @property
    def text(self) -> str:
        return _lines(self.samples)


@dataclass(slots=True)
class _Script:
    """One conversation: its turns in order, and the edited reply its agent sends."""

    conversation_id: str
    turns: list[_Turn] = field(default_factory=list)
    edit: tuple[Sample, ...] = ()
    edited: bool = False


def _lines(samples: Iterable[Sample]) -> str:
    """One message holding the samples' sentences, a line each."""
    return "\n".join(s.text for s in samples)


def _needles(sample: Sample) -> list[str]:
    """What must not appear: the raw value, and its digits when there are 7 or more."""
    number = digits(sample.value)
    return [sample.value, number] if len(number) >= 7 else [sample.value]


def _found(haystack: str, samples: Iterable[Sample]) -> list[tuple[str, str]]:
    return [(s.kind, n) for s in samples for n in _needles(s) if n in haystack]


# Numbers the service writes itself, full of digit runs that match some 7- or 8-digit value of
# 19,000 by chance: decimals (latencies, scores, a timestamp's seconds and the byte after them in
# the database file), uuid hex ids and the log tags of conversation ids. Blanked before looking for
# needles made only of digits; a needle with any other character is looked for in the raw text.
_SERVICE_NUMBERS = re.compile(r"\d+\.\d{5,}|[0-9a-f]{32}|conv-[0-9a-f]{12}")


class _Scanner:
    """Finds which of ~40,000 needles occur in megabytes of text in one pass: an index of their
    first ``PREFIX`` characters, checked at every position (a substring test per needle would scan
    the text 40,000 times)."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self._verbatim: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
        self._numbers: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
        for sample in samples:
            for needle in _needles(sample):
                assert len(needle) >= PREFIX, needle
                index = self._numbers if needle.isdigit() else self._verbatim
                index[needle[:PREFIX]].add((sample.kind, needle))

    def found(self, haystack: str) -> list[tuple[str, str, str]]:
        """Each hit in ``haystack``: (kind, needle, the needle in 30 characters of context)."""
        blanked = _SERVICE_NUMBERS.sub(lambda m: "#" * len(m[0]), haystack)
        hits = self._hits(haystack, self._verbatim, haystack)
        return sorted(hits | self._hits(blanked, self._numbers, haystack))

    @staticmethod
    def _hits(
        text: str, index: dict[str, set[tuple[str, str]]], original: str
    ) -> set[tuple[str, str, str]]:
        hits: set[tuple[str, str, str]] = set()
        get = index.get
        for at in range(len(text) - PREFIX + 1):
            for kind, needle in get(text[at : at + PREFIX]) or ():
                if text.startswith(needle, at):
                    hits.add((kind, needle, original[max(0, at - 30) : at + len(needle) + 30]))
        return hits


def _scripts(seed: int, samples: list[Sample], max_chars: int) -> list[_Script]:
    """Agent turns holding one value of every kind, customer turns and edits from a sample."""
    rng = random.Random(seed)
    by_kind: dict[str, list[Sample]] = collections.defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    packs = []
    for n in range(PER_KIND):
        pack = [by_kind[kind][n] for kind in KINDS]
        rng.shuffle(pack)  # every kind beside every other
        packs.append(tuple(pack))
    scripts = [_Script(f"pii-e2e-{c:02d}") for c in range(N_CONVERSATIONS)]
    customers = rng.sample(samples, N_CUSTOMER_TURNS)
    for c, script in enumerate(scripts):
        agent = [
            _Turn(f"a{n}", "agent", pack)
            for n, pack in enumerate(packs)
            if n % N_CONVERSATIONS == c
        ]
        asked = customers[c::N_CONVERSATIONS]
        for n, sample in enumerate(asked):  # a question, then the agent's turns until the next
            script.turns.append(_Turn(f"c{n}", "customer", (sample,)))
            script.turns.extend(
                agent[n * len(agent) // len(asked) : (n + 1) * len(agent) // len(asked)]
            )
        script.edit = rng.choice(packs)
    longest = max(len(t.text) for s in scripts for t in s.turns)
    assert longest <= max_chars, f"a packed turn of {longest} characters is refused"
    return scripts


def _post(client: TestClient, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer, response.text


def _run(client: TestClient, script: _Script) -> None:
    """Post the conversation's turns in order; the first suggestion gets the edited reply."""
    path = f"/v1/conversations/{script.conversation_id}"
    for turn in script.turns:
        body = {"turn_id": turn.turn_id, "speaker": turn.speaker, "text": turn.text}
        answer, text = _post(client, f"{path}/turns", body)
        assert not _found(text, turn.samples), "the reply echoes the raw value"
        if turn.speaker == "agent":
            assert answer["detail"] == "ok", answer
            continue
        assert answer["type"] == "suggestions", answer
        if answer["suggestions"] and not script.edited:
            edit = {
                "suggestion_id": answer["suggestions"][0]["id"],
                "action": "edited",
                "final_text": _lines(script.edit),
            }
            assert _post(client, f"{path}/feedback", edit)[0]["detail"] == "recorded"
            script.edited = True


@pytest.mark.slow
def test_every_posted_pii_value_is_stored_logged_and_exported_only_redacted(
    client: TestClient,
    service_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed = corpus_seed()
    logger.info("pii e2e seed=%d (override with COPILOT_PII_SEED)", seed)
    samples = build(seed, per_kind=PER_KIND)
    scripts = _scripts(seed, samples, service_settings.max_turn_chars)
    sent = collections.Counter(
        s.kind
        for script in scripts
        for t in script.turns
        if t.speaker == "agent"
        for s in t.samples
    )
    assert sent == dict.fromkeys(KINDS, PER_KIND), "every value goes in an agent turn"
    scanner = _Scanner(samples)
    caplog.set_level(logging.DEBUG)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(lambda script: _run(client, script), scripts))
    n_turns = sum(len(s.turns) for s in scripts)
    logger.info("pii e2e posted %d turns in %.1f s", n_turns, time.monotonic() - started)
    assert sum(s.edited for s in scripts) == N_CONVERSATIONS, "a conversation had no suggestion"

    exported = [
        client.get("/v1/supervisor/export", params={"format": f, "limit": 100_000})
        for f in ("csv", "json")
    ]
    read = [client.get(f"/v1/conversations/{s.conversation_id}") for s in scripts]
    for response in (*exported, *read):
        assert response.status_code == 200, response.text
    assert exported[0].text.count("\n") > N_CONVERSATIONS, "the export holds the turns"
    for script, response in zip(scripts, read, strict=True):
        logged = response.json()
        assert len(logged["turns"]) == len(script.turns), script.conversation_id
        assert len(logged["feedback"]) == 1, script.conversation_id
    assert not scanner.found("\n".join(r.text for r in (*exported, *read)))

    _assert_files_clean(tmp_path, scanner)  # the WAL before a checkpoint folds it in
    client.__exit__(None, None, None)  # the lifespan flushes the log writer and closes the engine
    records = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records
    )
    assert not scanner.found(records + caplog.text)
    _assert_files_clean(tmp_path, scanner)


def _assert_files_clean(folder: Path, scanner: _Scanner) -> None:
    """Scan the database file and its -wal/-journal companions, byte by byte (as UTF-8)."""
    stored = sorted(folder.glob("copilot.sqlite*"))
    assert stored, "no database file"
    texts = {p.name: p.read_bytes().decode("utf-8", errors="replace") for p in stored}
    for name, text in texts.items():
        assert not scanner.found(text), f"raw values in {name}"
    assert any(re.search(r"\[[A-Z]+\]", t) for t in texts.values()), "no redacted turn stored"
