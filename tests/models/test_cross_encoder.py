"""A cross-encoder folder a user brings loads as the reranker (a tiny random BERT, built here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from copilot.models.loader import resolve
from copilot.models.reranker import load_reranker

WORDS = ["card", "blocked", "stolen", "refund", "order", "roaming", "plan", "my", "was", "the"]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT sequence classifier with random weights, saved as a local folder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
    )
    config.num_labels = 1  # one relevance logit per pair, as cross-encoders have
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_cross_encoder_from_manifest_scores_each_passage(
    tiny_cross_encoder: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "models" / "manifest.toml"
    manifest.parent.mkdir()
    manifest.write_text(
        f'[models.tiny]\nbackend = "cross-encoder"\npath = "{tiny_cross_encoder.as_posix()}"\n'
    )
    reranker = load_reranker(resolve("tiny", manifest), threads=1)
    passages = ["my card was stolen", "refund the order", "roaming plan"]
    scores = reranker.score("card blocked", passages)
    assert scores.shape == (3,)
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()
    assert len(set(scores.tolist())) == 3
    np.testing.assert_allclose(reranker.score("card blocked", passages), scores)
    assert reranker.score("card blocked", []).shape == (0,)
