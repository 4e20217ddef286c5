"""Join a faster-whisper model shipped in several PyPI packages into one verified model folder."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from importlib import resources
from pathlib import Path

from copilot.errors import ModelChecksumError, ModelNotFoundError

logger = logging.getLogger(__name__)

MODEL_FILE = "model.bin"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json")
_BLOCK = 8 * 1024 * 1024


def _data_dir(package: str) -> Path:
    if importlib.util.find_spec(package) is None:
        raise ModelNotFoundError(f"python package {package!r} is not installed (run `make setup`)")
    return Path(str(resources.files(package))) / "data"


def part_folders(packages: tuple[str, ...]) -> list[Path]:
    """The ``data`` folders of the part packages, in join order.

    Raises:
        ModelNotFoundError: A package is not installed or holds no ``model.bin.partN``.
    """
    folders = [_data_dir(p) for p in packages]
    for n, folder in enumerate(folders, start=1):
        if not (folder / f"{MODEL_FILE}.part{n}").is_file():
            raise ModelNotFoundError(f"{folder} holds no {MODEL_FILE}.part{n}")
    return folders


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _is_valid(path: Path, size: int, sha256: str) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256_of(path) == sha256


def assemble_model(packages: tuple[str, ...], target: Path, size: int, sha256: str) -> Path:
    """Build ``target`` (a faster-whisper folder) from the parts, unless it is already valid.

    ``model.bin`` is the byte concatenation of ``model.bin.part1``, ``.part2``… from each
    package's ``data`` folder, streamed into a temporary file that is renamed only once its size
    and sha256 match; the other files (config, tokenizer, vocabulary) are copied from whichever
    package ships them. Nothing is written into site-packages.

    Args:
        packages: Python package names, in part order.
        target: The model folder to create (under the data folder).
        size: Expected size of the joined ``model.bin`` in bytes.
        sha256: Expected hex sha256 of the joined ``model.bin``.

    Returns:
        ``target``.

    Raises:
        ModelNotFoundError: A part package is missing.
        ModelChecksumError: The joined file does not match ``size`` and ``sha256``.
    """
    folders = part_folders(packages)
    model = target / MODEL_FILE
    if not _is_valid(model, size, sha256):
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{MODEL_FILE}.{os.getpid()}.tmp"
        digest = hashlib.sha256()
        written = 0
        try:
            with tmp.open("wb") as out:
                for n, folder in enumerate(folders, start=1):
                    with (folder / f"{MODEL_FILE}.part{n}").open("rb") as part:
                        while block := part.read(_BLOCK):
                            out.write(block)
                            digest.update(block)
                            written += len(block)
            if written != size or digest.hexdigest() != sha256:
                raise ModelChecksumError(
                    f"joined {MODEL_FILE} from {', '.join(packages)} is {written} bytes with "
                    f"sha256 {digest.hexdigest()}, expected {size} bytes and {sha256}"
                )
            os.replace(tmp, model)
        finally:
            tmp.unlink(missing_ok=True)
        logger.info("asr_model_assembled folder=%s bytes=%d", target, written)
    for name in SIDE_FILES:
        source = next((f / name for f in folders if (f / name).is_file()), None)
        if source is not None and not (target / name).is_file():
            shutil.copyfile(source, target / name)
    if not (target / "config.json").is_file():
        raise ModelNotFoundError(f"no config.json in the parts of {', '.join(packages)}")
    return target
