"""Evaluation metrics on small hand-checked rankings, and case-file validation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from copilot.domain import Confidence
from copilot.errors import EvalCasesError
from copilot.kb.evaluate import CaseResult, expected_calibration_error, load_cases, metrics


def _result(
    ranked: list[str], gold: set[str], language: str = "es", confidence: float | None = None
) -> CaseResult:
    judged = None if confidence is None else Confidence(confidence, confidence < 0.5)
    return CaseResult("c", language, None, tuple(ranked), frozenset(gold), 1.0, judged)


def test_metrics_match_hand_computed_values() -> None:
    results = [
        _result(["a", "b", "c"], {"a"}),  # first: RR 1, nDCG 1
        _result(["x", "y", "g"], {"g"}),  # third: RR 1/3, nDCG 1/log2(4) = 0.5
        _result(["x"] * 10 + ["g"], {"g"}),  # 11th: outside every cutoff
        _result(["g1", "x", "g2"], {"g1", "g2"}),  # two gold docs at ranks 1 and 3
    ]
    m = metrics(results)
    assert m["recall@1"] == pytest.approx(2 / 4)
    assert m["recall@5"] == pytest.approx(3 / 4)
    assert m["recall@10"] == pytest.approx(3 / 4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 0 + 1) / 4)
    ndcg_two = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx((1 + 0.5 + 0 + ndcg_two) / 4)
    assert m["n"] == 4


def test_cases_without_gold_count_for_abstention_not_for_ranking() -> None:
    results = [
        _result(["a"], {"a"}, confidence=0.9),  # answered right
        _result(["x"], {"g"}, confidence=0.3),  # answerable, but abstained
        _result(["x"], set(), confidence=0.2),  # should abstain, did
        _result(["x"], set(), confidence=0.8),  # should abstain, answered
    ]
    m = metrics(results)
    assert m["n"] == 2
    assert m["recall@1"] == pytest.approx(1 / 2)
    assert m["answered_recall@5"] == pytest.approx(1 / 2)
    assert m["n_abstain"] == 2
    assert m["abstain_recall"] == pytest.approx(1 / 2)
    assert m["abstain_precision"] == pytest.approx(1 / 2)
    assert m["abstain_rate"] == pytest.approx(2 / 4)


def test_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    # Bin 0.8-0.9: four cases at 0.8, three of them right, so 0.75 vs 0.8.
    assert expected_calibration_error([0.8] * 4, [True, True, True, False]) == pytest.approx(0.05)
    assert expected_calibration_error([0.0, 1.0], [False, True]) == pytest.approx(0.0)
    assert expected_calibration_error([1.0, 1.0], [False, False]) == pytest.approx(1.0)


def test_load_cases_accepts_an_empty_gold_list(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "oos", "query": "what is the weather", "gold_doc_ids": []}\n')
    assert load_cases(path)[0].gold_doc_ids == frozenset()


def test_load_cases_reads_queries_and_dialogues(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        '{"id": "q", "query": "hola", "gold_doc_ids": ["a"], "language": "es", "client": "bank"}\n'
        "\n"
        '{"id": "h", "history": [{"role": "customer", "text": "hi"}, '
        '{"role": "agent", "text": "hello"}], "gold_doc_ids": ["b", "c"]}\n'
    )
    cases = load_cases(path)
    assert [c.case_id for c in cases] == ["q", "h"]
    assert (cases[0].language, cases[0].client) == ("es", "bank")
    assert [t.speaker.value for t in cases[1].turns] == ["customer", "agent"]
    assert cases[1].gold_doc_ids == {"b", "c"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "gold_doc_ids": ["a"]}', "needs 'query' or 'history'"),
        ('{"id": "x", "query": "q", "gold_doc_ids": "a"}', "must be a list"),
        ('{"id": "x", "history": [{"role": "bot", "text": "t"}], "gold_doc_ids": ["a"]}', "bot"),
        ("not json", "Expecting value"),
    ],
)
def test_malformed_case_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok", "query": "q", "gold_doc_ids": ["a"]}\n' + line + "\n")
    with pytest.raises(EvalCasesError, match=rf"bad\.jsonl:2: .*{message}"):
        load_cases(path)


def test_missing_cases_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EvalCasesError, match="cannot read cases file"):
        load_cases(tmp_path / "nope.jsonl")
