"""Evaluation suites: set discovery, content-hash cache keys and derived off-topic dialogues."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from copilot.domain import Speaker
from copilot.errors import EvalCasesError
from copilot.kb.evaluate import load_cases
from copilot.kb.suite import cache_key, derive_off_topic, discover
from copilot.kb.sync import BuildInfo
from copilot.settings import Settings
from tests.conftest import DATA

SUITE = DATA / "suite"


def test_off_topic_variants_replace_the_last_turn_of_each_dialogue(tmp_path: Path) -> None:
    (parent,) = discover(SUITE)
    (derived,) = derive_off_topic([parent], tmp_path)
    assert derived.name == "tiny-en+off-topic"
    assert derived.kb_name == "tiny-en"
    assert derived.kb_sources == parent.kb_sources
    originals = {c.case_id: c for c in load_cases(parent.cases)}
    cases = load_cases(derived.cases)
    assert len(cases) == 2  # the two dialogues; the single question is the off-topic pool
    for case in cases:
        source = originals[case.case_id.removesuffix("+off-topic")]
        assert case.gold_doc_ids == frozenset()
        assert case.turns[:-1] == source.turns[:-1]
        assert case.turns[-1].speaker is Speaker.CUSTOMER
        assert case.turns[-1].text == "What will the weather be like tomorrow?"


def test_cache_key_follows_the_kb_bytes_and_the_build(tmp_path: Path) -> None:
    shutil.copytree(SUITE / "tiny-en", tmp_path / "tiny-en")
    (eval_set,) = discover(tmp_path)
    build = BuildInfo.of("e5", 384, Settings(_env_file=None))
    key = cache_key(eval_set, build)
    assert cache_key(eval_set, build) == key
    assert cache_key(eval_set, BuildInfo.of("use", 512, Settings(_env_file=None))) != key
    with (tmp_path / "tiny-en" / "kb.jsonl").open("a") as fh:
        fh.write('{"id": "x", "title": "X", "text": "new passage", "language": "en"}\n')
    assert cache_key(eval_set, build) != key


def test_discover_needs_a_folder_with_sets(tmp_path: Path) -> None:
    with pytest.raises(EvalCasesError, match="holds no set"):
        discover(tmp_path)
    with pytest.raises(EvalCasesError, match="no evaluation suite folder"):
        discover(tmp_path / "missing")
