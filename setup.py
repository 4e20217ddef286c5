"""Build hook: the wheel carries the model manifest, the confidence model and the demo KB.

They live at the repository root (``models/``, ``knowledge_base/``), where a checkout reads them;
setuptools' package data cannot reach outside ``copilot/``, so they are copied into the built
package as ``copilot/_bundled/``, where ``copilot/settings.py`` finds them when an installed
copilot runs from a folder without its own. Everything else is configured in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = (
    "models/manifest.toml",
    "models/confidence.json",
    "knowledge_base/demo",
    "knowledge_base/eval",
)
"""Repository paths the settings default to, kept at the same relative paths in the wheel."""


class BuildPyWithBundledData(build_py):
    """``build_py`` that also copies :data:`BUNDLED` into ``copilot/_bundled``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        target = Path(self.build_lib) / "copilot" / "_bundled"
        for name in BUNDLED:
            source, dest = ROOT / name, target / name
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)


setup(cmdclass={"build_py": BuildPyWithBundledData})
