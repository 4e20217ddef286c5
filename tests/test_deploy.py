"""The deployment files (Dockerfile, compose, nginx, .env.example) wire what they must.

Docker is not needed: ``docker-compose.yml`` is parsed and checked here; every ``COPILOT_*``
variable that it, the Dockerfile or ``.env.example`` sets must be a field of ``Settings`` (a
renamed setting fails this test); ``deploy/nginx.conf`` must route the app's real socket paths
and pass ``nginx -t`` when nginx is installed; ``docker compose config`` and hadolint run when
present; the Dockerfile's model warm-up step runs here as it does in the build.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from copilot.api.app import create_app
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
NGINX = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
WARM = ROOT / "deploy" / "warm_models.py"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")
_COPILOT_VAR = re.compile(r"\bCOPILOT_[A-Z0-9_]+\b")
# nginx's `server ... resolve` (re-resolving a name in an upstream) is open source since 1.27.3.
_RESOLVE_SINCE = (1, 27, 3)


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def _env_example() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip().strip("'")
    return out


def _dockerfile_env() -> dict[str, str]:
    """``ENV`` keys and values of the Dockerfile's final stage (continuation lines joined)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    out: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            out.update(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line))
    return out


def _setting_names() -> set[str]:
    return set(Settings.model_fields)


def test_compose_runs_a_balancer_two_scalable_replicas_postgres_and_redis() -> None:
    services = _compose()["services"]
    assert set(services) >= {"lb", "copilot", "postgres", "redis"}

    copilot = services["copilot"]
    assert copilot["deploy"]["replicas"] >= 2
    # `--scale copilot=N` needs one service with no fixed container name or host port.
    assert "container_name" not in copilot
    assert "ports" not in copilot
    assert copilot["build"] in (".", {"context": "."})
    for dependency in ("postgres", "redis"):
        assert copilot["depends_on"][dependency]["condition"] == "service_healthy"

    lb = services["lb"]
    assert lb["image"].startswith("nginx:")
    assert any(str(p).endswith(":80") for p in lb["ports"])
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]
    assert "copilot" in lb["depends_on"]


def test_compose_wires_postgres_redis_and_the_shared_data_volume() -> None:
    compose = _compose()
    services, volumes = compose["services"], compose["volumes"]
    env = services["copilot"]["environment"]
    assert env["COPILOT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["COPILOT_DATABASE_URL"]
    assert env["COPILOT_REDIS_URL"] == "redis://redis:6379/0"
    data_mount = f"copilot-data:{env['COPILOT_DATA_DIR']}"
    assert data_mount in services["copilot"]["volumes"], "replicas share one data volume (KB)"
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    assert set(volumes) == {"copilot-data", "postgres-data", "redis-data"}


def test_every_service_has_a_health_check() -> None:
    services = _compose()["services"]
    for name in ("lb", "copilot", "postgres", "redis"):
        check = services[name]["healthcheck"]
        assert check["test"], name
    assert "/readyz" in " ".join(services["copilot"]["healthcheck"]["test"])
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_every_copilot_variable_is_a_real_setting() -> None:
    """A renamed or removed setting fails here instead of being silently ignored in production."""
    fields = _setting_names()
    sources = {
        "docker-compose.yml": set(_COPILOT_VAR.findall(COMPOSE.read_text(encoding="utf-8"))),
        ".env.example": {k for k in _env_example() if k.startswith("COPILOT_")},
        "Dockerfile": {k for k in _dockerfile_env() if k.startswith("COPILOT_")},
    }
    assert sources["docker-compose.yml"]
    assert sources[".env.example"]
    assert sources["Dockerfile"]
    unknown = {
        source: sorted(v for v in names if v.removeprefix("COPILOT_").lower() not in fields)
        for source, names in sources.items()
    }
    assert unknown == {source: [] for source in sources}


def test_env_example_names_every_variable_compose_reads() -> None:
    used = set(_INTERPOLATION.findall(COMPOSE.read_text(encoding="utf-8")))
    assert used - set(_env_example()) == set()


def test_env_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(_env_example()):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert {k.role.value for k in settings.api_keys} == {"admin", "supervisor"}
    assert not settings.open_access


def test_nginx_routes_the_real_socket_paths(tmp_path: Path) -> None:
    """The audio socket is hashed on the conversation id; the panel's socket is not sticky."""
    text = NGINX.read_text(encoding="utf-8")
    settings = Settings(data_dir=tmp_path, open_access=True, _env_file=None)
    paths = {getattr(r, "path", "") for r in create_app(settings).routes}
    audio_route = "/v1/conversations/{conversation_id}/audio"
    stream_route = "/v1/conversations/{conversation_id}/stream"
    assert {audio_route, stream_route} <= paths

    locations = dict(re.findall(r"location ~ (\S+) \{\s*proxy_pass http://(\w+);", text))
    by_upstream = {upstream: regex for regex, upstream in locations.items()}
    sample = "conv-42"
    assert re.fullmatch(by_upstream["copilot_audio"], audio_route.format(conversation_id=sample))
    audio_map = re.search(r'"~(\^/v1/conversations/\(\?<cid>\[\^/\]\+\)/audio\$)" \$cid;', text)
    assert audio_map is not None
    python_regex = audio_map.group(1).replace("(?<", "(?P<")  # PCRE's named group, Python's way
    matched = re.fullmatch(python_regex, audio_route.format(conversation_id=sample))
    assert matched is not None
    assert matched.group("cid") == sample
    assert re.search(r"upstream copilot_audio \{[^}]*hash \$audio_conversation consistent;", text)
    stream_regex = next(r for r, u in locations.items() if u == "copilot" and "stream" in r)
    assert re.fullmatch(stream_regex, stream_route.format(conversation_id=sample))
    assert re.search(r"upstream copilot \{[^}]*least_conn;", text)

    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "proxy_set_header Connection $connection_upgrade;" in text
    # Socket URLs carry ?access_token=KEY and raw conversation ids: nginx must not log them.
    assert re.search(r"^\s*access_log off;", text, re.MULTILINE)


def _nginx_version(nginx: str) -> tuple[int, ...]:
    out = subprocess.run([nginx, "-v"], capture_output=True, text=True, check=True).stderr
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out)
    assert found is not None, out
    return tuple(int(g) for g in found.groups())


def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
    )
    if nginx is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): nginx -t not run")
    # `copilot` resolves only on the compose network: point the upstreams at localhost.
    text = NGINX.read_text(encoding="utf-8").replace("server copilot:8000", "server 127.0.0.1:8000")
    if _nginx_version(nginx) < _RESOLVE_SINCE:
        # The image runs nginx 1.28; an older local nginx checks everything but that parameter.
        text = text.replace(" resolve;", ";")
    conf = tmp_path / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [nginx, "-t", "-c", str(conf), "-p", str(tmp_path), "-g", f"pid {tmp_path}/nginx.pid;"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_config_is_valid() -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("no `docker compose` plugin or docker-compose binary: compose config not run")
    result = subprocess.run(
        [*command, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_hadolint_accepts_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed: the Dockerfile is checked structurally only")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "error", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_copilot_serve_as_non_root_with_cpu_torch_and_a_health_check() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    joined = text.replace("\\\n", " ")
    torch_lines = [line for line in joined.splitlines() if "torch==" in line]
    assert any(
        "--index-url https://download.pytorch.org/whl/cpu" in line and "torch==2.13.0" in line
        for line in torch_lines
    ), torch_lines
    assert all("torch==2.13.0" in line for line in torch_lines)

    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    health = re.search(r"^HEALTHCHECK .*", joined, re.MULTILINE)
    assert health is not None
    assert re.search(r"/(healthz|readyz)", health.group(0))
    assert re.search(r'^ENTRYPOINT \["copilot"\]', text, re.MULTILINE)
    assert re.search(r'^CMD \["serve", "--host", "0.0.0.0"', text, re.MULTILINE)
    assert re.search(r'^VOLUME \["/data"\]', text, re.MULTILINE)
    env = _dockerfile_env()
    assert env["COPILOT_DATA_DIR"] == "/data"
    assert env["HF_HUB_OFFLINE"] == "1"


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves ``path`` out (last matching pattern wins, ``!`` re-includes)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        if body == "*" or path == body or path.startswith(body + "/"):
            ignored = not negate
    return ignored


def test_every_copy_source_exists_and_reaches_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    sources = [src for line in copies for src in line.split()[:-1]]
    assert sources
    for src in sources:
        assert (ROOT / src).exists(), src
        assert not _ignored(src.removeprefix("./").rstrip("/"), patterns), src
    for kept_out in (".venv", "data", "tests", ".git", "benchmarks/results"):
        assert _ignored(kept_out, patterns), kept_out


def test_the_image_build_copies_what_the_wheel_bundles() -> None:
    """setup.py bundles repository files into the wheel; the build stage must copy each one."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    bundled = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "BUNDLED" for t in node.targets)
    )
    build_stage = DOCKERFILE.read_text(encoding="utf-8").split("\nFROM ")[1]
    copied = {
        src.removeprefix("./").rstrip("/")
        for line in re.findall(r"^COPY (?!--from)(.+)$", build_stage, re.MULTILINE)
        for src in line.split()[:-1]
    }
    for name in bundled:
        assert any(name == c or name.startswith(c + "/") for c in copied), name


def test_build_step_assembles_and_loads_every_model_offline(tmp_path: Path) -> None:
    """The Dockerfile's warm step, run here: Whisper joined from its wheels, every model loaded."""
    models = tmp_path / "models"
    result = subprocess.run(
        [sys.executable, str(WARM), str(models)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (models / "whisper-base" / "model.bin").is_file()
    assert "warm_models translator ['en-pt', 'pt-en'] ok" in result.stdout
