"""FastAPI dependencies as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from copilot.api.state import AppState
from copilot.service.assist import AssistService


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
