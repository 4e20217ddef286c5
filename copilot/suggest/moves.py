"""Conversational moves (greeting, thanks, closing, "are you there?", supervisor, anger).

A turn is compared with prototype utterances of each move, embedded once with the query embedder
(cosine of unit vectors), and its words are checked against the prototypes' own words: a greeting
that also asks something is a question for the knowledge base, not a greeting. Supervisor requests
and anger are kept even beside a question, because the agent must see them either way.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rapidfuzz import fuzz, process

from copilot.errors import ConfigError
from copilot.models.embedding import Embedder
from copilot.textnorm import fold, tokenize

logger = logging.getLogger(__name__)

Language = Literal["es", "en", "pt"]
LANGUAGES: tuple[Language, ...] = ("es", "en", "pt")

_RUNS = re.compile(r"([a-z])\1{2,}|([a-z])\2+\b")  # chat stretches words: "graciaaas", "oii"
_NAME = re.compile(r"\b(?:me llamo|mi nombre es|soy|my name is|me chamo|meu nome e)\s+[a-z]+")
_TYPO_RATIO = 80.0  # rapidfuzz ratio: "grasias"/"gracias" 86, "tarjet"/"target" 67


class _MoveSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    escalate: bool = False
    cues: dict[Language, list[str]] = Field(default_factory=dict)
    prototypes: dict[Language, list[str]]
    replies: dict[Language, str]

    @model_validator(mode="after")
    def _complete(self) -> _MoveSpec:
        if set(self.replies) != set(LANGUAGES):
            raise ValueError("every move needs a reply in es, en and pt")
        if not any(self.prototypes.values()):
            raise ValueError("every move needs at least one prototype")
        return self


class _MovesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filler: dict[Language, str] = Field(default_factory=dict)
    moves: dict[str, _MoveSpec] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class MoveMatch:
    """A turn recognised as a conversational move.

    ``score`` is the cosine of the turn with the nearest prototype of the move; ``language`` that
    prototype's language (a fallback for turns too short for the language detector); ``pure`` says
    the turn holds nothing beyond move words, so it needs no knowledge-base answer.
    """

    move: str
    score: float
    language: Language
    pure: bool
    escalate: bool


def _folded(text: str) -> str:
    return _RUNS.sub(lambda m: m.group(1) or m.group(2), fold(text))


def _words(text: str) -> list[str]:
    return tokenize(_NAME.sub(" ", _folded(text)))


def default_moves_path() -> Path:
    """The packaged prototypes and replies (``copilot/suggest/data/moves.yaml``)."""
    return Path(str(resources.files("copilot.suggest") / "data" / "moves.yaml"))


class MoveDetector:
    """Recognises conversational moves and gives the reply for each, per language.

    Args:
        path: the YAML file of prototypes, fillers and replies (see the packaged one).
        embedder: the query embedder of the pipeline (prototypes and turns must share it).
        threshold: least cosine to the nearest prototype for greeting, thanks, closing, presence.
        escalation_threshold: the same for moves that escalate (they may sit beside a question).
        cache_dir: where prototype vectors are kept between starts (keyed by model and file);
            None: embed at every start.

    Raises:
        ConfigError: the file is missing or malformed.
    """

    def __init__(
        self,
        path: Path,
        embedder: Embedder,
        threshold: float,
        escalation_threshold: float,
        cache_dir: Path | None = None,
    ) -> None:
        try:
            raw = path.read_bytes()
            spec = _MovesFile.model_validate(yaml.safe_load(raw))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"conversational moves file {path} cannot be used: {exc}") from exc
        self.threshold = threshold
        self.escalation_threshold = escalation_threshold
        self._specs = spec.moves
        texts: list[str] = []
        self._owner: list[tuple[str, Language]] = []
        vocabulary: set[str] = set()
        for name, move in spec.moves.items():
            for lang, prototypes in move.prototypes.items():
                for text in prototypes:
                    texts.append(text)
                    self._owner.append((name, lang))
                    vocabulary.update(_words(text))
        for words in spec.filler.values():
            vocabulary.update(_words(words))
        self._vocabulary = frozenset(vocabulary)
        self._fuzzy_words = sorted(w for w in vocabulary if len(w) > 2)
        self._cues = {
            name: re.compile(r"\b(?:" + "|".join(re.escape(_folded(c)) for c in cues) + ")")
            for name, move in spec.moves.items()
            if move.escalate and (cues := [c for cs in move.cues.values() for c in cs])
        }
        key = hashlib.sha256(embedder.name.encode() + b"\0" + raw).hexdigest()[:16]
        self._vectors = self._embedded(texts, embedder, cache_dir, key)
        logger.info("moves_loaded moves=%d prototypes=%d", len(spec.moves), len(texts))

    @staticmethod
    def _embedded(
        texts: list[str], embedder: Embedder, cache_dir: Path | None, key: str
    ) -> NDArray[np.float32]:
        cached = cache_dir / f"moves-{key}.npy" if cache_dir is not None else None
        if cached is not None and cached.is_file():
            vectors = np.load(cached)
            if vectors.shape == (len(texts), embedder.dim):
                return np.ascontiguousarray(vectors, dtype=np.float32)
        vectors = embedder.embed_queries(texts)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, vectors)
        return vectors

    @property
    def moves(self) -> tuple[str, ...]:
        """The move names, in file order."""
        return tuple(self._specs)

    def residual(self, text: str) -> list[str]:
        """Content words of ``text`` that are not move words (typos within one or two letters
        forgiven); empty for a pure move."""
        out = []
        for word in _words(text):
            if word in self._vocabulary:
                continue
            if len(word) > 3 and process.extractOne(
                word, self._fuzzy_words, scorer=fuzz.ratio, score_cutoff=_TYPO_RATIO
            ):
                continue
            out.append(word)
        return out

    def scores(self, vector: NDArray[np.float32]) -> dict[str, tuple[float, Language]]:
        """Per move, the best cosine of ``vector`` (a unit query vector) with its prototypes and
        that prototype's language."""
        sims = self._vectors @ vector
        best: dict[str, tuple[float, Language]] = {}
        for i in np.argsort(-sims):
            name, lang = self._owner[int(i)]
            best.setdefault(name, (float(sims[i]), lang))
            if len(best) == len(self._specs):
                break
        return best

    def cues(self, text: str) -> frozenset[str]:
        """Escalating moves whose cue words (prefixes, accents folded) occur in ``text``."""
        folded = _folded(text)
        return frozenset(name for name, cue in self._cues.items() if cue.search(folded))

    def detect(self, text: str, vector: NDArray[np.float32]) -> MoveMatch | None:
        """The move of a customer turn, or None for a turn that is not one.

        Args:
            text: the turn as typed (redacted).
            vector: its unit query embedding, from the pipeline's embedder.

        Returns:
            See `decide`.
        """
        return self.decide(self.scores(vector), not self.residual(text), self.cues(text))

    def decide(
        self, scores: dict[str, tuple[float, Language]], pure: bool, cued: frozenset[str]
    ) -> MoveMatch | None:
        """The move given a turn's `scores`, whether it is `pure` and its `cues`.

        Returns:
            An escalating move (supervisor, anger) named by a cue word, else over
            ``escalation_threshold``, pure or beside a question (the one closest to the turn);
            else, for a pure turn, the closest move over its threshold; else None.
        """
        escalating = sorted(
            (
                (score, name, lang)
                for name, (score, lang) in scores.items()
                if self._specs[name].escalate
                and (name in cued or (not pure and score >= self.escalation_threshold))
            ),
            reverse=True,
        )
        if escalating:
            score, name, lang = escalating[0]
            return MoveMatch(name, round(score, 4), lang, pure, True)
        if not pure:
            return None
        name, (score, lang) = max(scores.items(), key=lambda kv: kv[1][0])
        escalate = self._specs[name].escalate
        if score < (self.escalation_threshold if escalate else self.threshold):
            return None
        return MoveMatch(name, round(score, 4), lang, True, escalate)

    def reply(self, move: str, language: str) -> str:
        """The reply to suggest for ``move`` in ``language`` (English when not es/en/pt)."""
        replies = self._specs[move].replies
        return next((text for lang, text in replies.items() if lang == language), replies["en"])
