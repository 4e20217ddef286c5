"""Fit the confidence model on labelled searches from several sets, with cross-validation.

Probabilities reported for a set are out-of-fold (the model that gave them never saw that case),
and the abstention threshold is chosen on them: the one that maximises the macro average, over the
sets, of the share of turns handled right (answered with a gold passage in the top 5, or abstained
on when the KB cannot answer). The off-topic gate for follow-ups is then the strictest that costs
no set with follow-ups more than ``MAX_GATE_COST`` of its answered recall@5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from copilot.suggest.confidence import FEATURES, ConfidenceModel, fit

THRESHOLDS = tuple(round(float(t), 2) for t in np.arange(0.0, 0.96, 0.01))
MAX_GATE_COST = 0.03
"""Answered recall@5 a set of real follow-ups may lose to the off-topic gate (at most)."""


@dataclass(frozen=True, slots=True)
class LabelledSearch:
    """One evaluated case: its set, retrieval signals and what was right."""

    group: str
    features: tuple[float, ...]
    top_correct: bool
    hit_at_5: bool
    should_abstain: bool


@dataclass(frozen=True, slots=True)
class Calibration:
    """The fitted model, each case's out-of-fold probability and the threshold's utility."""

    model: ConfidenceModel
    out_of_fold: tuple[float, ...]
    utility: float


def handled_right(
    cases: Sequence[LabelledSearch], probs: Sequence[float], threshold: float
) -> float:
    """Macro average over groups of the share of cases handled right at this threshold."""
    by_group: dict[str, list[bool]] = {}
    for case, p in zip(cases, probs, strict=True):
        abstain = p < threshold
        right = abstain if case.should_abstain else case.hit_at_5 and not abstain
        by_group.setdefault(case.group, []).append(right)
    return float(np.mean([np.mean(v) for v in by_group.values()]))


def off_topic_gate(
    cases: Sequence[LabelledSearch], probs: Sequence[float], threshold: float
) -> float:
    """The highest ``turn_best`` below which follow-ups are abstained on, within the cost bound.

    Off-topic turns amid a dialogue are not in the public sets, so the gate is not fitted to
    catch them: it is set as strict as real follow-ups allow (``MAX_GATE_COST`` of answered
    recall@5 on each set that has them); 0 when no set has follow-ups. Read off the sorted
    cosines rather than a grid: e5's cosines crowd into a narrow band (most between 0.75 and
    0.9), where one step of a 0.01 grid moved the gate past a quarter of the off-topic turns.
    """
    turn_best, dialogue = FEATURES.index("turn_best"), FEATURES.index("dialogue")
    follow_ups: dict[str, list[tuple[float, bool]]] = {}
    for case, p in zip(cases, probs, strict=True):
        if case.features[dialogue] and not case.should_abstain:
            answered = case.hit_at_5 and p >= threshold
            follow_ups.setdefault(case.group, []).append((case.features[turn_best], answered))
    if not follow_ups:
        return 0.0

    def strictest(values: list[tuple[float, bool]]) -> float:
        """The highest gate that leaves at most the bound's share of the answered below it."""
        answered = sorted(best for best, hit in values if hit)
        if not answered:
            return 0.0
        allowed = int(MAX_GATE_COST * len(values))
        return answered[min(allowed, len(answered) - 1)]

    # Rounded down, so the bound still holds for the stored value.
    return float(np.floor(min(strictest(v) for v in follow_ups.values()) * 1000) / 1000)


def calibrate(
    cases: Sequence[LabelledSearch], embedder: str, folds: int = 5, seed: int = 13
) -> Calibration:
    """Out-of-fold probabilities (folds stratified by set), the threshold chosen on them, and the
    final model fitted on every case."""
    from sklearn.model_selection import StratifiedKFold

    x = [c.features for c in cases]
    y = [c.top_correct for c in cases]
    strata = [f"{c.group}:{c.top_correct}" for c in cases]
    oof = np.zeros(len(cases))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(cases)), strata):
        model = fit([x[i] for i in train], [y[i] for i in train], embedder)
        oof[test] = [model.probability(x[i]) for i in test]
    probs = oof.tolist()
    best = max(THRESHOLDS, key=lambda t: (handled_right(cases, probs, t), -t))
    groups = sorted({c.group for c in cases})
    final = fit(
        x,
        y,
        embedder,
        abstain_below=best,
        fitted_on={"sets": groups, "cases": len(cases), "folds": folds, "seed": seed},
    )
    gated = replace(final, off_topic_below=off_topic_gate(cases, probs, best))
    return Calibration(gated, tuple(probs), handled_right(cases, probs, best))
