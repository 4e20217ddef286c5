"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator

from copilot.api.schemas import Text
from copilot.api.state import AppState, StartProgress
from copilot.errors import ServiceStartingError
from copilot.service.assist import AssistService
from copilot.storage.records import LogFilters


def get_state(request: Request) -> AppState:
    """The app's state.

    Raises:
        ServiceStartingError: Models, KB or database are still loading (503 ``starting``, with
            ``Retry-After``), or failed to.
    """
    state: AppState | None = getattr(request.app.state, "copilot", None)
    if state is None:
        progress: StartProgress | None = getattr(request.app.state, "startup", None)
        stage = progress.describe() if progress is not None else "starting"
        raise ServiceStartingError(f"the service is not ready yet: {stage}")
    return state


def get_service(state: Annotated[AppState, Depends(get_state)]) -> AssistService:
    """The conversation service."""
    return state.service


StateDep = Annotated[AppState, Depends(get_state)]
ServiceDep = Annotated[AssistService, Depends(get_service)]


def _in_utc(bound: datetime | None) -> datetime | None:
    """A date bound as an aware UTC datetime; a bound without an offset is UTC already.

    Reports subtract the bounds from each other and from now: a naive one beside an aware one
    fails, as does an instant that leaves years 1 to 9999 once moved to UTC.

    Raises:
        ValueError: The bound has no UTC equivalent (a 422 for the request).
    """
    if bound is None or bound.utcoffset() is None:
        return None if bound is None else bound.replace(tzinfo=UTC)
    try:
        return bound.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the date falls outside the years 1 to 9999 once in UTC") from exc


Since = Annotated[
    datetime | None,
    AfterValidator(_in_utc),
    Query(description="Inclusive lower bound (ISO 8601; without an offset, UTC)."),
]
Until = Annotated[
    datetime | None,
    AfterValidator(_in_utc),
    Query(description="Exclusive upper bound (ISO 8601; without an offset, UTC)."),
]


# PostgreSQL refuses a NUL in any text parameter (a 500); no stored value holds one anyway.
FilterText = Annotated[Text | None, Query(description="Exact match; no NUL characters.")]


def range_filters(
    since: Since = None,
    until: Until = None,
    agent_id: FilterText = None,
    client: FilterText = None,
    language: FilterText = None,
) -> LogFilters:
    """The filter bar of every log listing and report: date range, agent, client, language.

    Each route adds its own ``limit`` and ``offset`` bounds.
    """
    return LogFilters(since, until, agent_id, client, language)


RangeFiltersDep = Annotated[LogFilters, Depends(range_filters)]

ConversationId = Annotated[
    Text,
    Path(min_length=1, max_length=128, description="At most 128 characters, no NUL."),
]
"""A conversation id in a path: what the log tables can store (and PostgreSQL can compare)."""

MAX_OFFSET = 2**31 - 1
"""Bound on a listing's ``offset``: a larger one overflows the database's integer (a 500)."""
Offset = Annotated[
    int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (paging), at most 2,147,483,647.")
]
