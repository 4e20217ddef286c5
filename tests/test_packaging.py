"""A built wheel works from any folder: installed into a fresh virtual environment (dependencies
borrowed from this one, never reinstalled), run from an empty folder, no repository in sight."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import copilot
from tests.conftest import REPO
from tests.processes import free_port

pytestmark = pytest.mark.slow

_SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "copilot")
_DATA = ("models", "knowledge_base")
_START_TIMEOUT_S = 300.0


def _top_files_only(folder: str, names: list[str]) -> list[str]:
    # Model folders a user dropped into models/ are not part of the package.
    top = REPO / "models"
    return [n for n in names if Path(folder) == top and (top / n).is_dir()]


def _copy_sources(target: Path) -> Path:
    """What a build needs, copied: building in the checkout would write build/ into it."""
    target.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "_bundled")
    for name in _SOURCES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, target / name, ignore=skip)
        else:
            shutil.copy2(src, target / name)
    for name in _DATA:
        shutil.copytree(REPO / name, target / name, ignore=_top_files_only)
    return target


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; this venv's site-packages serve the dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    source = _copy_sources(root / "src")
    dist = root / "dist"
    # No build isolation: setuptools comes from this venv, so the build needs no index.
    wheel_cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*wheel_cmd, "-w", str(dist), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = dist.glob("copilot-*.whl")
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    new_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    borrowed = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(new_site, "borrowed.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    # --ignore-installed: the editable install here must be neither seen nor uninstalled.
    pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed"]
    subprocess.run(
        [*pip, "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    return env_dir


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """An empty working folder: no models/, no knowledge_base/, no .env."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def _env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPILOT_")}
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _copilot(venv: Path, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "copilot"), *args],
        cwd=cwd,
        env=_env(venv),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def served(venv: Path, elsewhere: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``copilot serve`` of the installed wheel in the empty folder, killed at the end."""
    port = free_port()
    log = (elsewhere.parent / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "copilot"), "serve", "--open-access", "--port", str(port)],
        cwd=elsewhere,
        env=_env(venv),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.kill()
        proc.wait(timeout=30)
        log.close()


def test_the_wheel_runs_from_its_own_venv_not_the_checkout(venv: Path, elsewhere: Path) -> None:
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import copilot; print(copilot.__file__)"],
        cwd=elsewhere,
        env=_env(venv),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv)
    assert not Path(where).is_relative_to(REPO)
    assert _copilot(venv, elsewhere, "--version").strip() == f"copilot {copilot.__version__}"


def test_the_installed_cli_ingests_searches_and_serves_from_an_empty_folder(
    venv: Path, elsewhere: Path, served: tuple[str, subprocess.Popen[bytes]]
) -> None:
    doc = elsewhere.parent / "roaming.md"
    doc.write_text(
        "---\ntitle: Roaming en Europa\nlanguage: es\nclient: telecom\n---\n"
        "El roaming en Europa cuesta 5 euros por día e incluye 1 GB de datos.\n",
        encoding="utf-8",
    )
    added = json.loads(_copilot(venv, elsewhere, "kb", "add", str(doc), "--json"))
    assert added["added"] == ["roaming"]
    found = _copilot(venv, elsewhere, "kb", "search", "cuánto cuesta el roaming", "--json")
    hits = json.loads(found)
    assert hits
    assert hits[0]["doc_id"] == "roaming"
    assert (elsewhere / "data").is_dir()

    url, proc = served
    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        assert proc.poll() is None, (elsewhere.parent / "serve.log").read_text()
        try:
            ready = httpx.get(f"{url}/readyz", timeout=5)
            if ready.status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, (elsewhere.parent / "serve.log").read_text()
        time.sleep(0.5)
    assert ready.json()["kb_passages"] >= 1
