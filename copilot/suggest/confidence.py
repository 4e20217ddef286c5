"""Calibrated confidence: the probability that a turn's first hit answers it, and abstention.

Raw fused scores mean different things on different KBs (a cosine of 0.85 is a sure answer on one
and noise on another), so the number the agent sees is a logistic regression over retrieval
signals, fitted with cross-validation on public evaluation sets (`copilot kb eval --suite DIR
--calibrate FILE`) and stored as a small JSON file that the service loads. Below
``abstain_below`` the service abstains: no grounded draft, a clarifying question instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from copilot.domain import Confidence, SearchHit
from copilot.errors import ConfigError
from copilot.textnorm import tokenize

FEATURES = (
    "margin",
    "dense",
    "turn_best",
    "lexical",
    "lexical_best",
    "agree",
    "turn_tokens",
    "turn",
    "dialogue",
)
"""Signals of one search: the first hit's margin over the second (fused scores), its cosine with
the dense query, the best cosine of the turn alone with any passage, the first hit's scaled BM25,
the best BM25 among the hits, whether BM25 liked the first hit best, the turn's length in
content words (log), the first hit's cosine with the turn alone, and whether the query was a
dialogue's (context mixed in). Without the last two, one model fitted on single questions and
follow-ups together was off by 0.13 on average on a FAQ KB of follow-ups (expected calibration
error), where context lifts every passage of the place asked about. The fused score
itself is left out: it is almost a copy of the cosine, and two collinear inputs would get
coefficients of opposite sign."""


SIGNAL_DEPTH = 3
"""Hits the signals look at: as many as the service retrieves for a turn, so that evaluation
(which ranks ten) and the service see the same numbers."""


def signals(turn: str, hits: Sequence[SearchHit]) -> tuple[float, ...]:
    """The `FEATURES` of one search (all zero without hits)."""
    if not hits:
        return (0.0,) * len(FEATURES)
    hits = hits[:SIGNAL_DEPTH]
    top = hits[0]
    second = hits[1].score if len(hits) > 1 else top.score
    lexical_best = max(h.lexical for h in hits)
    agree = float(top.lexical > 0 and top.lexical >= lexical_best)
    return (
        top.score - second,
        top.dense,
        top.turn_best,
        top.lexical,
        lexical_best,
        agree,
        math.log1p(len(tokenize(turn))),
        top.turn,
        float(top.dialogue),
    )


_TURN_BEST = FEATURES.index("turn_best")
_DIALOGUE = FEATURES.index("dialogue")


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    """A fitted logistic regression over `FEATURES` (standardised), and the abstention thresholds.

    ``off_topic_below`` gates follow-ups: a dialogue turn whose own words match no passage that
    well (``turn_best``) is abstained on whatever the context lifted. The regression cannot learn
    it, since the public follow-ups it is fitted on are all on topic (`calibrate.off_topic_gate`).
    """

    embedder: str
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    abstain_below: float
    fitted_on: dict[str, object] = field(default_factory=dict)
    off_topic_below: float = 0.0

    def probability(self, features: Sequence[float]) -> float:
        """Estimated probability that the first hit answers the turn."""
        x = (np.asarray(features, dtype=float) - np.asarray(self.mean)) / np.asarray(self.scale)
        z = float(x @ np.asarray(self.coef)) + self.intercept
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def judge(self, turn: str, hits: Sequence[SearchHit]) -> Confidence:
        """The confidence and abstention decision for a turn's hits (abstain without hits)."""
        if not hits:
            return Confidence(0.0, True, signals(turn, hits))
        return self.decide(signals(turn, hits))

    def decide(self, features: tuple[float, ...]) -> Confidence:
        """The confidence and abstention decision for a search's signals."""
        value = self.probability(features)
        return Confidence(value, self.abstains(value, features), features)

    def abstains(self, value: float, features: Sequence[float]) -> bool:
        """Whether to abstain at this confidence: below ``abstain_below``, or an off-topic turn."""
        off_topic = bool(features[_DIALOGUE]) and features[_TURN_BEST] < self.off_topic_below
        return value < self.abstain_below or off_topic

    def save(self, path: Path) -> None:
        """Write the model as JSON (through a temporary file, so a crash leaves the old one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"features": list(FEATURES), **asdict(self)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> ConfidenceModel:
        """Read a model that `save` wrote.

        Raises:
            ConfigError: The file is missing, malformed, or made for other features.
        """
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if tuple(data.pop("features")) != FEATURES:
                raise ValueError(f"features differ from {FEATURES}")
            model = cls(
                embedder=str(data["embedder"]),
                mean=tuple(map(float, data["mean"])),
                scale=tuple(map(float, data["scale"])),
                coef=tuple(map(float, data["coef"])),
                intercept=float(data["intercept"]),
                abstain_below=float(data["abstain_below"]),
                fitted_on=dict(data.get("fitted_on", {})),
                off_topic_below=float(data.get("off_topic_below", 0.0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot load the confidence model {path}: {exc}") from exc
        if not len(model.mean) == len(model.scale) == len(model.coef) == len(FEATURES):
            raise ConfigError(f"{path}: expected {len(FEATURES)} coefficients")
        return model


def fit(
    features: Sequence[Sequence[float]],
    correct: Sequence[bool],
    embedder: str,
    abstain_below: float = 0.5,
    fitted_on: dict[str, object] | None = None,
) -> ConfidenceModel:
    """Fit the logistic regression (scikit-learn) on labelled searches.

    Raises:
        ConfigError: Only one class among the labels (nothing to calibrate).
    """
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, dtype=float)
    y = np.asarray(correct, dtype=bool)
    if y.all() or not y.any():
        raise ConfigError("calibration needs both right and wrong first hits")
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
    lr = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    return ConfidenceModel(
        embedder,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in lr.coef_[0]),
        float(lr.intercept_[0]),
        abstain_below,
        fitted_on or {},
    )
