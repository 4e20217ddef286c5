"""The browser pages the service serves itself: agent panel, demo, supervisor console, static files.

Plain HTML, CSS and ES modules under ``copilot/api/static``; there is no build step. While the
service is starting, the demo and the panel are a small page that polls ``/readyz`` and reloads
into the real one when ready (the first start ingests the demo KB behind an open port).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""The folder mounted at ``/static``."""

router = APIRouter(tags=["pages"], include_in_schema=False)

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
"""Pages that show customer text run only the service's own scripts, whatever a text holds. There is
no frame-ancestors: the panel is meant to be embedded by any chat tool."""


def _starting(request: Request) -> bool:
    return getattr(request.app.state, "copilot", None) is None


def _page(*parts: str, csp: bool = True) -> FileResponse:
    # no-cache: a browser revalidates (ETag) so an upgraded service never runs a stale panel.
    headers = {"Cache-Control": "no-cache"}
    if csp:
        headers["Content-Security-Policy"] = _CSP
    return FileResponse(STATIC_DIR.joinpath(*parts), headers=headers)


@router.get("/")
async def home() -> RedirectResponse:
    """A newcomer who opens the bare address lands on the demo."""
    return RedirectResponse("/demo")


@router.get("/panel")
async def panel(request: Request) -> FileResponse:
    """The agent side panel (embed it as an iframe; see the README)."""
    if _starting(request):
        return _page("demo", "starting.html")
    return _page("panel", "index.html")


@router.get("/panel/document")
async def panel_document() -> FileResponse:
    """A KB document, opened from a suggestion's evidence or a manual search result."""
    return _page("panel", "document.html")


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The icon, for browsers that ask for it on a page without a ``<link rel="icon">``."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get("/demo")
async def demo(request: Request) -> FileResponse:
    """A simulated customer chat beside the panel: the whole loop on one page."""
    if _starting(request):
        return _page("demo", "starting.html")
    return _page("demo", "index.html")


@router.get("/supervisor")
async def supervisor() -> FileResponse:
    """The supervisor console."""
    return _page("supervisor", "index.html", csp=False)  # its charts set inline styles


def install(app: FastAPI) -> None:
    """Add the page routes and mount the static folder at ``/static``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
