"""Corpus sentences posted to the real service leave no raw value in the database file, its WAL,
the log records or the supervisor export."""

from __future__ import annotations

import logging
import random
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.privacy.corpus import Sample, build, corpus_seed, digits

logger = logging.getLogger(__name__)
N_TURNS = 300
N_CONVERSATIONS = 20


def _needles(sample: Sample) -> list[str]:
    """What must not appear: the raw value, and its digits when there are 7 or more."""
    number = digits(sample.value)
    return [sample.value, number] if len(number) >= 7 else [sample.value]


def _found(haystack: str, samples: list[Sample]) -> list[tuple[str, str]]:
    return [(s.kind, n) for s in samples for n in _needles(s) if n in haystack]


@pytest.mark.slow
def test_posted_pii_is_stored_logged_and_exported_only_redacted(
    client: TestClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seed = corpus_seed()
    logger.info("pii e2e seed=%d (override with COPILOT_PII_SEED)", seed)
    samples = random.Random(seed).sample(build(seed, per_kind=100), N_TURNS)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    for n, sample in enumerate(samples):
        conversation = f"pii-e2e-{n % N_CONVERSATIONS:02d}"
        body = {"turn_id": f"t{n}", "speaker": "customer", "text": sample.text}
        response = client.post(f"/v1/conversations/{conversation}/turns", json=body)
        assert response.status_code == 200, response.text
        assert not _found(response.text, [sample]), "the reply echoes the raw value"
    logger.info("pii e2e posted %d turns in %.1f s", N_TURNS, time.monotonic() - started)
    exported = [
        client.get("/v1/supervisor/export", params={"format": f, "limit": 100_000})
        for f in ("csv", "json")
    ]
    read = [client.get(f"/v1/conversations/pii-e2e-{c:02d}") for c in range(N_CONVERSATIONS)]
    for response in (*exported, *read):
        assert response.status_code == 200, response.text
    assert exported[0].text.count("\n") > N_CONVERSATIONS, "the export holds the turns"
    assert not _found("\n".join(r.text for r in (*exported, *read)), samples)

    _assert_files_clean(tmp_path, samples)  # the WAL before a checkpoint folds it in
    client.__exit__(None, None, None)  # the lifespan flushes the log writer and closes the engine
    records = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records
    )
    assert not _found(records + caplog.text, samples)
    _assert_files_clean(tmp_path, samples)


def _assert_files_clean(folder: Path, samples: list[Sample]) -> None:
    """Scan the database file and its -wal/-journal companions, byte by byte (as UTF-8)."""
    stored = sorted(folder.glob("copilot.sqlite*"))
    assert stored, "no database file"
    texts = {p.name: p.read_bytes().decode("utf-8", errors="replace") for p in stored}
    for name, text in texts.items():
        assert not _found(text, samples), f"raw values in {name}"
    assert any(re.search(r"\[[A-Z]+\]", t) for t in texts.values()), "no redacted turn stored"
