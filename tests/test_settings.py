"""Default data paths resolve from any folder, not only the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.settings import Settings
from tests.conftest import REPO

_SHIPPED = ("kb_source_dir", "eval_cases_path", "models_manifest", "confidence_model")


@pytest.fixture
def no_path_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in _SHIPPED:
        monkeypatch.delenv(f"COPILOT_{field.upper()}", raising=False)


@pytest.mark.usefixtures("no_path_env")
def test_defaults_find_the_shipped_files_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(_env_file=None)
    assert settings.models_manifest.is_file()
    assert settings.confidence_model.is_file()
    assert settings.eval_cases_path.is_file()
    assert (settings.kb_source_dir / "bank").is_dir()
    assert not settings.models_manifest.is_relative_to(tmp_path)


@pytest.mark.usefixtures("no_path_env")
def test_defaults_stay_relative_in_the_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` from the checkout reads the repository's own files, as before."""
    monkeypatch.chdir(REPO)
    settings = Settings(_env_file=None)
    assert settings.models_manifest == Path("models/manifest.toml")
    assert settings.kb_source_dir == Path("knowledge_base/demo")


@pytest.mark.usefixtures("no_path_env")
def test_a_manifest_in_the_working_folder_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "models" / "manifest.toml"
    own.parent.mkdir()
    own.write_text('[roles]\nembedding = "mine"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert Settings(_env_file=None).models_manifest == Path("models/manifest.toml")


def test_a_missing_path_without_a_shipped_copy_is_kept_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(models_manifest=Path("models/other.toml"), _env_file=None)
    assert settings.models_manifest == Path("models/other.toml")
