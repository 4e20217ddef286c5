"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from copilot.api.state import AppState
from copilot.service.assist import AssistService
from copilot.storage.records import LogFilters


def get_state(request: Request) -> AppState:
    """The app's state; 503 until the lifespan has loaded models and index."""
    state: AppState | None = getattr(request.app.state, "copilot", None)
    if state is None:
        raise HTTPException(status_code=503, detail="service is starting")
    return state


def get_service(state: Annotated[AppState, Depends(get_state)]) -> AssistService:
    """The conversation service."""
    return state.service


StateDep = Annotated[AppState, Depends(get_state)]
ServiceDep = Annotated[AssistService, Depends(get_service)]


Since = Annotated[datetime | None, Query(description="Inclusive lower bound (ISO 8601).")]
Until = Annotated[datetime | None, Query(description="Exclusive upper bound (ISO 8601).")]


def range_filters(
    since: Since = None,
    until: Until = None,
    agent_id: str | None = None,
    client: str | None = None,
    language: str | None = None,
) -> LogFilters:
    """The filter bar of every log listing and report: date range, agent, client, language.

    Each route adds its own ``limit`` and ``offset`` bounds.
    """
    return LogFilters(since, until, agent_id, client, language)


RangeFiltersDep = Annotated[LogFilters, Depends(range_filters)]

MAX_OFFSET = 2**31 - 1
"""Bound on a listing's ``offset``: a larger one overflows the database's integer (a 500)."""
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (paging), at most 2,147,483,647.")
]
