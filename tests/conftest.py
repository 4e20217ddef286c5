"""Shared fixtures: real small models loaded once, settings in tmp folders, a tiny KB."""

from __future__ import annotations

import io
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from copilot.kb import KnowledgeBase
from copilot.models.embedding import Embedder, load_embedder
from copilot.models.language import LanguageDetector
from copilot.models.loader import force_offline, resolve
from copilot.models.reranker import Reranker, load_reranker
from copilot.settings import Settings

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "models" / "manifest.toml"
DATA = Path(__file__).resolve().parent / "data"

force_offline()

FUZZ_SEED = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    """One fuzz seed for the run, from ``COPILOT_FUZZ_SEED`` or drawn here."""
    config.stash[FUZZ_SEED] = int(os.environ.get("COPILOT_FUZZ_SEED", random.randrange(2**32)))


def pytest_report_header(config: pytest.Config) -> str:
    """Printed before any test runs, so a run that dies in native code (a segfault takes the
    captured logs with it) still tells which seed to rerun."""
    return f"fuzz seed: {config.stash[FUZZ_SEED]} (rerun with COPILOT_FUZZ_SEED=...)"


@pytest.fixture(scope="session")
def fuzz_seed(pytestconfig: pytest.Config) -> int:
    """The run's fuzz seed (the fuzz tests' hypothesis seed)."""
    return pytestconfig.stash[FUZZ_SEED]


@pytest.fixture(scope="session")
def e5() -> Embedder:
    """The default multilingual embedder (multilingual-e5-small, 4-bit)."""
    return load_embedder(resolve("multilingual-e5-small", MANIFEST), threads=2)


@pytest.fixture(scope="session")
def use_reranker() -> Reranker:
    """The default reranker: Universal Sentence Encoder multilingual as a second opinion."""
    return load_reranker(resolve("use-multilingual", MANIFEST), threads=2)


@pytest.fixture(scope="session")
def detector() -> LanguageDetector:
    """The es/en/pt language detector."""
    return LanguageDetector()


def make_pdf(path: Path, *, encrypt: bool = False) -> Path:
    """Write a small Portuguese PDF with Copilot metadata (optionally password-protected)."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for line in (
        "Troca de produtos com defeito",
        "Produtos com defeito podem ser trocados em até 90 dias na loja ou pelo correio.",
    ):
        pdf.multi_cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    raw = bytes(pdf.output())
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(raw)))
    writer.add_metadata(
        {
            "/Title": "Troca de produtos com defeito",
            "/Keywords": "troca, defeito",
            "/CopilotId": "ret-pt-troca-defeito",
            "/CopilotClient": "retail",
            "/CopilotLanguage": "pt",
        }
    )
    if encrypt:
        writer.encrypt("secret")
    with path.open("wb") as fh:
        writer.write(fh)
    return path


FILLER = (
    "Le cuento que esta semana fue muy larga para mí y para toda mi familia. "
    "Mi hermana vino de visita con sus dos hijos y estuvimos paseando por el parque. "
    "El domingo cocinamos empanadas y después vimos una película antigua en la tele. "
    "Mi vecino anda con problemas en su trabajo, pero esa es otra historia. "
    "Llovió casi todos los días y hacía bastante frío por las mañanas. "
)


def long_text(n_chars: int = 3000) -> str:
    """Chat-like Spanish filler of about ``n_chars`` characters that asks nothing of the KB."""
    reps = n_chars // len(FILLER) + 1
    return (FILLER * reps)[:n_chars].rsplit(" ", 1)[0]


@pytest.fixture
def kb_sources(tmp_path: Path) -> Path:
    """A copy of tests/data/kb plus a generated PDF: a source in every supported format."""
    folder = tmp_path / "sources"
    shutil.copytree(DATA / "kb", folder)
    make_pdf(folder / "ret-pt-troca-defeito.pdf")
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data folder lives in the test's tmp folder."""
    return Settings(
        data_dir=tmp_path / "data",
        models_manifest=MANIFEST,
        kb_source_dir=DATA / "kb",
        eval_cases_path=DATA / "cases.jsonl",
        _env_file=None,  # a developer's .env must not leak into tests
    )


@pytest.fixture
def open_kb(
    settings: Settings, e5: Embedder, use_reranker: Reranker, detector: LanguageDetector
) -> Iterator[KnowledgeBase]:
    """An empty KB on the real models, closed after the test."""
    kb = KnowledgeBase.open(
        settings, embedder=e5, reranker=use_reranker, language_detector=detector
    )
    yield kb
    kb.close()


@pytest.fixture
def filled_kb(open_kb: KnowledgeBase, kb_sources: Path) -> KnowledgeBase:
    """The KB with every test source ingested."""
    open_kb.add([kb_sources])
    return open_kb
