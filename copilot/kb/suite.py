"""Evaluation suites: the bundled set plus public sets, each searched in a KB of its own.

A set is a folder holding ``kb.jsonl`` (its passages) and ``cases.jsonl`` (its labelled cases).
Every set gets a throwaway KB under ``data_dir/eval-cache/<key>``, where the key hashes the set's
KB files together with the embedder and chunker: a rerun with unchanged data opens the cached KB
instead of re-embedding it.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from copilot.domain import DialogueTurn, SearchFilters, SearchHit
from copilot.errors import EvalCasesError
from copilot.kb.evaluate import DEPTH, EvalReport, Judge, evaluate, load_cases
from copilot.kb.knowledge_base import KnowledgeBase
from copilot.kb.query import RetrievalQuery
from copilot.kb.retrieve import RetrievalMode
from copilot.kb.sync import BuildInfo
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.models.reranker import Reranker
from copilot.settings import Settings

BUNDLED = "bundled"
_READY = "READY"  # written once a set's KB is fully ingested; a cache without it is rebuilt


@dataclass(frozen=True, slots=True)
class EvalSet:
    """One evaluation set: where its KB and its cases are, and whether others wrote it."""

    name: str
    kb_sources: tuple[Path, ...]
    cases: Path
    external: bool
    kb_name: str | None = None
    """The set whose KB this one searches (a derived set shares its parent's); None: its own."""

    @property
    def derived(self) -> bool:
        """Whether this set was made from another one here rather than written by others."""
        return self.kb_name is not None


def bundled_set(settings: Settings) -> EvalSet:
    """The demo KB with its evaluation cases (written with the code, so not a judge of quality)."""
    return EvalSet(BUNDLED, (settings.kb_source_dir,), settings.eval_cases_path, external=False)


def discover(suite_dir: Path) -> list[EvalSet]:
    """Every sub-folder of ``suite_dir`` holding ``kb.jsonl`` and ``cases.jsonl``, by name.

    Raises:
        EvalCasesError: The folder is missing or holds no set.
    """
    if not suite_dir.is_dir():
        raise EvalCasesError(f"no evaluation suite folder {suite_dir}")
    sets = [
        EvalSet(d.name, (d / "kb.jsonl",), d / "cases.jsonl", external=True)
        for d in sorted(suite_dir.iterdir())
        if (d / "kb.jsonl").is_file() and (d / "cases.jsonl").is_file()
    ]
    if not sets:
        raise EvalCasesError(f"{suite_dir} holds no set (a folder with kb.jsonl and cases.jsonl)")
    return sets


OFF_TOPIC_CASES = 200
"""Dialogues per multi-turn set that get an off-topic last turn (sampled with Random(13))."""


def derive_off_topic(sets: Sequence[EvalSet], folder: Path) -> list[EvalSet]:
    """Off-topic questions in the middle of the public dialogues, which the KB must not answer.

    No public set has them, yet they are what a live conversation brings ("who won the match
    yesterday?" after a question about a card), and the dialogue context lifts them towards the
    KB. For every external set with multi-turn cases, the last customer turn of up to
    `OFF_TOPIC_CASES` dialogues is replaced by a single-turn out-of-scope question of the
    external sets (an empty gold list), and the case must abstain. Written under ``folder``.
    """
    external = [(s, load_cases(s.cases)) for s in sets if s.external]
    pool = [
        c.turns[-1].text
        for _, cases in external
        for c in cases
        if not c.gold_doc_ids and len(c.turns) == 1
    ]
    if not pool:
        return []
    rng = random.Random(13)
    derived = []
    for eval_set, cases in external:
        dialogues = [c for c in cases if len(c.turns) > 1 and c.gold_doc_ids]
        if not dialogues:
            continue
        lines = []
        for case in rng.sample(dialogues, min(OFF_TOPIC_CASES, len(dialogues))):
            history = [{"role": t.speaker.value, "text": t.text} for t in case.turns[:-1]]
            history.append({"role": "customer", "text": rng.choice(pool)})
            row = {"id": f"{case.case_id}+off-topic", "history": history, "gold_doc_ids": []}
            lines.append(json.dumps({**row, "language": case.language}, ensure_ascii=False))
        name = f"{eval_set.name}+off-topic"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        derived.append(
            EvalSet(name, eval_set.kb_sources, path, external=True, kb_name=eval_set.name)
        )
    return derived


def content_digest(sources: Sequence[Path]) -> str:
    """SHA-256 of KB sources: each file, or every file under a folder, by relative name and bytes.

    A KB built from sources with the same digest (and the same build) need not be embedded again.
    """
    digest = hashlib.sha256()
    for source in sources:
        files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]
        for path in files:
            name = path.relative_to(source).as_posix() if source.is_dir() else path.name
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_key(eval_set: EvalSet, build: BuildInfo) -> str:
    """Hash of the set's KB files (names and bytes), the embedder and the chunker."""
    files = content_digest(eval_set.kb_sources)
    return hashlib.sha256(
        f"{build.embedder}|{build.dim}|{build.chunker}|{files}".encode()
    ).hexdigest()[:16]


def open_set_kb(
    eval_set: EvalSet,
    settings: Settings,
    embedder: Embedder,
    reranker: Reranker | None,
    detector: LanguageDetector,
    progress: Callable[[str, int, int], None],
) -> KnowledgeBase:
    """The set's own KB, from the cache when its data did not change, else ingested anew."""
    build = BuildInfo.of(embedder.name, embedder.dim, settings)
    own_name = eval_set.kb_name or eval_set.name
    folder = settings.data_dir / "eval-cache" / f"{own_name}-{cache_key(eval_set, build)}"
    ready = folder / _READY
    if folder.exists() and not ready.exists():
        shutil.rmtree(folder)  # an ingest that did not finish
    own = settings.model_copy(update={"data_dir": folder, "kb_name": "kb"})
    kb = KnowledgeBase(own, embedder, reranker, detector)
    if not ready.exists():
        report = kb.add(list(eval_set.kb_sources), progress)
        if report.problems and not report.added:
            kb.close()
            problems = "; ".join(str(p) for p in report.problems[:3])
            raise EvalCasesError(f"set {eval_set.name}: nothing could be ingested ({problems})")
        ready.write_text("ok\n", encoding="utf-8")
    return kb


BASELINES = ("dense-last-turn", "dense-last-3-turns", "bm25-last-turn")
"""Simple peers measured in the same run on the same KBs: what a default has to beat."""


def _baseline_query(
    name: str, turns: Sequence[DialogueTurn]
) -> tuple[RetrievalQuery, RetrievalMode]:
    last = turns[-1].text
    if name == "dense-last-turn":
        return RetrievalQuery(text=last, turn=last), RetrievalMode.DENSE
    if name == "dense-last-3-turns":
        joined = " ".join(t.text for t in turns[-3:])
        return RetrievalQuery(text=joined, turn=joined), RetrievalMode.DENSE
    if name == "bm25-last-turn":
        return RetrievalQuery(text=last, turn=last), RetrievalMode.LEXICAL
    raise ValueError(f"unknown baseline {name!r}")


@dataclass(frozen=True, slots=True)
class SetResult:
    """One set's report for the mode under test, and its baselines' reports."""

    eval_set: EvalSet
    report: EvalReport
    baselines: dict[str, EvalReport]


def run_suite(
    sets: Sequence[EvalSet],
    settings: Settings,
    mode: RetrievalMode,
    judge: Judge | None,
    with_baselines: bool,
    progress: Callable[[str, int, int], None],
    models: tuple[Embedder, Reranker | None, LanguageDetector],
) -> list[SetResult]:
    """Evaluate every set in its own KB (cached), with the baselines when asked."""
    embedder, reranker, detector = models
    results = []
    for eval_set in sets:
        kb = open_set_kb(eval_set, settings, embedder, reranker, detector, progress)
        try:
            results.append(_run_set(eval_set, kb, mode, judge, with_baselines, progress))
        finally:
            kb.close()
    return results


def _run_set(
    eval_set: EvalSet,
    kb: KnowledgeBase,
    mode: RetrievalMode,
    judge: Judge | None,
    with_baselines: bool,
    progress: Callable[[str, int, int], None],
) -> SetResult:
    cases = load_cases(eval_set.cases)

    def search(turns: Sequence[DialogueTurn], filters: SearchFilters) -> list[SearchHit]:
        return kb.search(turns, DEPTH, filters, mode)

    report = evaluate(cases, search, mode.value, _staged(progress, eval_set.name), judge)
    baselines = {}
    for name in BASELINES if with_baselines else ():

        def peer(
            turns: Sequence[DialogueTurn], filters: SearchFilters, name: str = name
        ) -> list[SearchHit]:
            query, peer_mode = _baseline_query(name, turns)
            return kb.search(query, DEPTH, filters, peer_mode)

        baselines[name] = evaluate(cases, peer, name, _staged(progress, name))
    return SetResult(eval_set, report, baselines)


def _staged(
    progress: Callable[[str, int, int], None], stage: str
) -> Callable[[str, int, int], None]:
    return lambda _stage, done, total: progress(stage, done, total)


def macro_average(reports: Sequence[EvalReport]) -> dict[str, float]:
    """Unweighted mean of each metric over the reports that have it (one vote per set)."""
    keys = dict.fromkeys(k for r in reports for k in r.metrics if k != "n")
    return {
        k: float(sum(r.metrics[k] for r in reports if k in r.metrics))
        / sum(1 for r in reports if k in r.metrics)
        for k in keys
    }
