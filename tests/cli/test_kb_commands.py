"""`copilot kb ...` through typer's CliRunner, on the real models and a tmp data folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.cli.main import app
from tests.conftest import DATA, MANIFEST


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_MODELS_MANIFEST", str(MANIFEST))
    monkeypatch.setenv("COPILOT_USE_RERANKER", "false")
    return CliRunner()


def _json(runner: CliRunner, *args: str) -> object:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _all(runner: CliRunner) -> list[dict[str, int]]:
    listed = _json(runner, "kb", "list")
    assert isinstance(listed, list)
    return listed


def test_add_list_search_remove_round_trip(runner: CliRunner, kb_sources: Path) -> None:
    added = _json(runner, "kb", "add", str(kb_sources))
    assert isinstance(added, dict)
    assert "bank-es-bloqueo" in added["added"]
    assert any(p["path"].endswith("faq.csv:4") for p in added["problems"])

    listed = _json(runner, "kb", "list", "--client", "bank")
    assert isinstance(listed, list)
    assert {d["doc_id"] for d in listed} == {"bank-es-bloqueo", "bank-es-contracargo"}

    hits = _json(
        runner, "kb", "search", "me robaron la tarjeta oro", "--k", "2", "--client", "bank"
    )
    assert isinstance(hits, list)
    assert hits[0]["doc_id"] == "bank-es-bloqueo"
    assert {"title", "section", "text", "score", "source"} <= hits[0].keys()

    result = runner.invoke(app, ["kb", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"rebuilt: {sum(d['n_chunks'] for d in _all(runner))} passages" in result.stdout

    result = runner.invoke(app, ["kb", "remove", "bank-es-bloqueo"])
    assert result.exit_code == 0
    hits = _json(runner, "kb", "search", "me robaron la tarjeta oro", "--client", "bank")
    assert isinstance(hits, list)
    assert "bank-es-bloqueo" not in {h["doc_id"] for h in hits}


def test_add_of_only_bad_files_exits_non_zero_and_names_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "empty.md"
    bad.write_text("")
    result = runner.invoke(app, ["kb", "add", str(bad)])
    assert result.exit_code == 1
    assert "empty.md" in result.stderr
    assert "empty file" in result.stderr


def test_eval_json_reports_metrics_and_ranked_ids_per_case(
    runner: CliRunner, kb_sources: Path
) -> None:
    assert runner.invoke(app, ["kb", "add", str(kb_sources)]).exit_code == 0
    report = _json(runner, "kb", "eval", "--cases", str(DATA / "cases.jsonl"), "--mode", "hybrid")
    assert isinstance(report, dict)
    assert report["recall@5"] == 1.0
    assert 0 < report["mrr@10"] <= 1
    assert set(report["by_language"]) == {"es", "en", "pt"}
    cases = {c["id"]: c for c in report["cases"]}
    assert set(cases) == {"c1", "c2", "c3"}
    assert cases["c3"]["ranked_doc_ids"][0] == "tel-en-roaming-viajero"
    assert len(cases["c1"]["ranked_doc_ids"]) <= 10


def test_remove_unknown_document_is_a_named_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["kb", "remove", "nope"])
    assert result.exit_code == 1
    assert "no document 'nope'" in result.stderr


def test_help_lists_every_kb_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["kb", "--help"])
    for command in ("add", "remove", "list", "search", "rebuild", "eval"):
        assert command in result.stdout
