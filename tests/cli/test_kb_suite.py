"""`copilot kb eval --suite DIR`: each set in its own cached KB, abstention and confidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.cli.main import app
from tests.conftest import DATA, MANIFEST, REPO

SUITE = DATA / "suite"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_MODELS_MANIFEST", str(MANIFEST))
    monkeypatch.setenv("COPILOT_CONFIDENCE_MODEL", str(REPO / "models" / "confidence.json"))
    monkeypatch.setenv("COPILOT_USE_RERANKER", "false")
    # A small bundled set keeps the test quick: the test KB and its three cases.
    monkeypatch.setenv("COPILOT_KB_SOURCE_DIR", str(DATA / "kb"))
    monkeypatch.setenv("COPILOT_EVAL_CASES_PATH", str(DATA / "cases.jsonl"))
    return CliRunner()


def _suite(runner: CliRunner, *extra: str) -> dict[str, object]:
    result = runner.invoke(app, ["kb", "eval", "--suite", str(SUITE), "--json", *extra])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_suite_reports_every_set_with_abstention_and_confidence(
    runner: CliRunner, tmp_path: Path
) -> None:
    data = _suite(runner, "--baselines")
    sets = {s["set"]: s for s in data["sets"]}  # type: ignore[attr-defined]
    assert set(sets) == {"bundled", "tiny-en", "tiny-en+off-topic"}
    assert not sets["bundled"]["external"]
    assert sets["tiny-en"]["external"]
    tiny = sets["tiny-en"]
    assert tiny["n"] == 2  # answerable cases; the out-of-scope one counts for abstention only
    assert tiny["n_abstain"] == 1
    for key in ("recall@1", "recall@5", "mrr@10", "ndcg@10", "ece", "abstain_recall"):
        assert 0.0 <= tiny[key] <= 1.0
    cases = {c["id"]: c for c in tiny["cases"]}
    assert cases["oos"]["gold_doc_ids"] == []
    for case in cases.values():
        assert isinstance(case["abstained"], bool)
        assert 0.0 <= case["confidence"] <= 1.0
    # The follow-up names its subject only in earlier turns: the dialogue query must find it.
    assert "hotel-bravo:phone" in cases["f1"]["ranked_doc_ids"][:2]
    assert set(tiny["baselines"]) == {"dense-last-turn", "dense-last-3-turns", "bm25-last-turn"}
    # Each dialogue again, its last turn replaced by the set's out-of-scope question.
    off_topic = sets["tiny-en+off-topic"]
    assert off_topic["n"] == 0
    assert off_topic["n_abstain"] == 2
    for case in off_topic["cases"]:
        assert case["gold_doc_ids"] == []
        assert case["id"] in {"f1+off-topic", "f2+off-topic"}
    assert data["macro"]["recall@5"] == tiny["recall@5"]  # type: ignore[index]
    # Each set got its own KB, cached by content: a second run re-embeds nothing.
    cache = tmp_path / "data" / "eval-cache"
    folders = sorted(p.name for p in cache.iterdir())
    assert len(folders) == 3  # bundled, tiny-en (shared by its off-topic variant), derived cases
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("kb.sqlite")}
    _suite(runner)
    assert sorted(p.name for p in cache.iterdir()) == folders
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("kb.sqlite")} == stamps


def test_suite_folder_without_sets_is_a_clear_error(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["kb", "eval", "--suite", str(tmp_path)])
    assert result.exit_code == 1
    assert "holds no set" in " ".join(result.stderr.split())  # rich wraps long lines
