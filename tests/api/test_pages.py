"""The pages the service serves itself: panel, demo, document view and their static files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from copilot.api.routes.pages import STATIC_DIR


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Pages never touch the log database: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'copilot.sqlite'}"


@pytest.mark.parametrize("path", ["/panel", "/panel/document", "/demo"])
def test_pages_are_html_without_a_build_step(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert '<script type="module"' in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_bare_address_leads_to_the_demo(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (307, "/demo")


def test_every_module_a_page_loads_is_served(client: TestClient) -> None:
    for folder in ("panel", "demo"):
        for path in sorted((STATIC_DIR / folder).glob("*.js")):
            response = client.get(f"/static/{folder}/{path.name}")
            assert response.status_code == 200, path.name
            assert "javascript" in response.headers["content-type"]
    assert client.get("/static/panel/panel.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/../settings.py").status_code == 404


def test_static_files_ship_with_the_package() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"api/static/**/*"' in pyproject
    assert (STATIC_DIR / "panel" / "index.html").is_file()


def test_the_favicon_is_served_and_linked_from_the_pages(client: TestClient) -> None:
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("image/svg+xml")
    for page in ("/panel", "/panel/document", "/demo"):
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get(page).text, page
