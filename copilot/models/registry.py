"""Load the models that settings and the manifest assign to each role."""

from __future__ import annotations

from copilot.errors import ConfigError
from copilot.models.embedding import Embedder, load_embedder
from copilot.models.loader import resolve, role_model
from copilot.models.reranker import Reranker, load_reranker
from copilot.settings import Settings


def embedder_from_settings(settings: Settings) -> Embedder:
    """The embedder of the ``embedding`` role (``COPILOT_EMBEDDING_MODEL`` overrides the manifest).

    Raises:
        ConfigError: No model serves the role.
        ModelNotFoundError: The model is not installed or its folder is missing.
    """
    manifest = settings.models_manifest
    name = role_model("embedding", manifest, settings.embedding_model)
    if name is None:
        raise ConfigError(f"no model serves the embedding role in {manifest}")
    return load_embedder(resolve(name, manifest), settings.model_threads, settings.embed_batch_size)


def reranker_from_settings(settings: Settings) -> Reranker | None:
    """The reranker of the ``reranker`` role, or None when reranking is off or unassigned.

    Raises:
        ModelNotFoundError: The model is not installed or its folder is missing.
    """
    if not settings.use_reranker:
        return None
    manifest = settings.models_manifest
    name = role_model("reranker", manifest, settings.reranker_model)
    if name is None:
        return None
    return load_reranker(resolve(name, manifest), settings.model_threads, settings.embed_batch_size)
