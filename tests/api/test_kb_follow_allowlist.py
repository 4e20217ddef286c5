"""A running service that loads a newer KB version also stops masking the numbers it publishes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.api.startup import reload_kb
from copilot.kb import KnowledgeBase
from copilot.models.embedding import Embedder
from copilot.models.language import LanguageDetector
from copilot.privacy.redact import Redactor
from copilot.settings import Settings

pytestmark = pytest.mark.anyio

HOTLINE_DOC = """---
id: bank-es-linea-fraude
title: "Línea de fraude"
language: es
client: bank
---
# Línea de fraude

Ante un cargo que no reconoce, llame a la Línea de Fraude 0800 444 1234, las 24 horas.
"""
TURN = "ya llamé al 0800 444 1234 y desde mi celular 300 123 4567"


@pytest.fixture
def anyio_backend() -> str:
    """Run on asyncio (the service's loop)."""
    return "asyncio"


@pytest.fixture
def replica(
    open_kb: KnowledgeBase, settings: Settings, e5: Embedder, detector: LanguageDetector
) -> Iterator[KnowledgeBase]:
    """A second KB on the writer's folder, as the running service opens it."""
    kb = KnowledgeBase.open(settings, embedder=e5, reranker=None, language_detector=detector)
    yield kb
    kb.close()


async def test_reloading_a_newer_kb_allowlists_the_hotline_it_publishes(
    open_kb: KnowledgeBase, replica: KnowledgeBase, tmp_path: Path
) -> None:
    redactor = Redactor()
    assert not await reload_kb(replica, redactor)  # nothing new: the allowlist stays
    assert redactor.redact(TURN).text == "ya llamé al [PHONE] y desde mi celular [PHONE]"

    doc = tmp_path / "new" / "bank-es-linea-fraude.md"
    doc.parent.mkdir()
    doc.write_text(HOTLINE_DOC, encoding="utf-8")
    open_kb.add([doc])  # `copilot kb add` in another process

    assert await reload_kb(replica, redactor)
    # The KB's hotline is kept; the customer's own number is still masked.
    assert redactor.redact(TURN).text == "ya llamé al 0800 444 1234 y desde mi celular [PHONE]"
