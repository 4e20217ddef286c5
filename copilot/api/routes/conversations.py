"""REST for platforms that push turns by webhook, and read endpoints over the logs."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import TypeAdapter

from copilot.api.auth import AgentDep, Principal, SupervisorDep, authenticator, ensure_owner
from copilot.api.deps import ConversationId, Offset, RangeFiltersDep, ServiceDep, StateDep
from copilot.api.responses import (
    ConversationLogOut,
    FeedbackRowOut,
    MeOut,
    ProtocolSchemaOut,
    SuggestionRowOut,
    TurnRowOut,
)
from copilot.api.schemas import (
    AUDIO_CLIENT_MESSAGE,
    CLIENT_MESSAGE,
    AckMessage,
    FeedbackIn,
    ServerMessage,
    SuggestionsMessage,
    TurnIn,
)
from copilot.api.websocket import check_turn_length, suggestions_message
from copilot.storage.feedback_repo import FeedbackRepo
from copilot.storage.records import LogFilters
from copilot.storage.turn_log_repo import TurnLogRepo

router = APIRouter(prefix="/v1", tags=["conversations"])


@router.post("/conversations/{conversation_id}/turns")
async def post_turn(
    conversation_id: ConversationId,
    body: TurnIn,
    service: ServiceDep,
    state: StateDep,
    principal: AgentDep,
) -> SuggestionsMessage | AckMessage:
    """Log a turn; a customer turn returns its suggestions (the conversation starts implicitly).

    Listeners of the conversation's stream (the agent's panel) get the turn and its suggestions.
    """
    check_turn_length(body.text, state.settings.max_turn_chars)
    agent_id = body.agent_id or principal.agent_id or "webhook"
    principal.check_agent(agent_id)
    await ensure_owner(principal, service, conversation_id)
    if await service.store.info(conversation_id) is None:  # not live on any replica
        await service.start(conversation_id, agent_id, body.channel, body.client, body.language)
    accepted = await service.turn(conversation_id, body.turn_id, body.speaker, body.text)
    if accepted.result is not None:
        return SuggestionsMessage.model_validate(
            suggestions_message(conversation_id, accepted.result)
        )
    detail = "duplicate" if accepted.duplicate else "superseded" if accepted.superseded else "ok"
    return AckMessage(ref=body.turn_id, detail=detail)


@router.post("/conversations/{conversation_id}/feedback")
async def post_feedback(
    conversation_id: ConversationId, body: FeedbackIn, service: ServiceDep, principal: AgentDep
) -> AckMessage:
    """Record what the agent did with a suggestion (a repeat is acknowledged as ``duplicate``)."""
    await ensure_owner(principal, service, conversation_id)
    recorded = await service.feedback(
        conversation_id, body.suggestion_id, body.action, body.final_text, body.reason
    )
    return AckMessage(ref=body.suggestion_id, detail="recorded" if recorded else "duplicate")


@router.post("/conversations/{conversation_id}/end")
async def post_end(
    conversation_id: ConversationId, service: ServiceDep, principal: AgentDep
) -> AckMessage:
    """End a conversation (frees its session; a later turn starts it again)."""
    await ensure_owner(principal, service, conversation_id)
    await service.end(conversation_id)
    return AckMessage(ref=conversation_id, detail="ended")


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: ConversationId, state: StateDep, principal: AgentDep
) -> ConversationLogOut:
    """The logged turns, suggestions (with evidence) and feedback of one conversation."""
    await ensure_owner(principal, state.service, conversation_id)
    filters = LogFilters(conversation_id=conversation_id, limit=10_000)
    async with state.sessions() as s:
        turns = await TurnLogRepo(s).turns(conversation_id)
        suggestions = await TurnLogRepo(s).list_suggestions(filters)
        feedback = await FeedbackRepo(s).list(filters)
    return ConversationLogOut(
        conversation_id=conversation_id,
        turns=[TurnRowOut.model_validate(t, from_attributes=True) for t in turns],
        suggestions=[
            SuggestionRowOut.model_validate(s, from_attributes=True) for s in reversed(suggestions)
        ],
        feedback=[
            FeedbackRowOut.model_validate(f, from_attributes=True) for f in reversed(feedback)
        ],
    )


def log_filters(
    base: RangeFiltersDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
) -> LogFilters:
    """The query parameters shared by every log listing."""
    return replace(base, limit=limit, offset=offset)


FiltersDep = Annotated[LogFilters, Depends(log_filters)]


def _own(filters: LogFilters, principal: Principal) -> LogFilters:
    """An agent lists only its own conversations' rows, whatever it asked for."""
    return filters if principal.agent_id is None else replace(filters, agent_id=principal.agent_id)


@router.get("/suggestions")
async def list_suggestions(
    state: StateDep, filters: FiltersDep, principal: AgentDep
) -> list[SuggestionRowOut]:
    """Suggestions, newest first, filtered by date range, agent, client and language."""
    async with state.sessions() as s:
        rows = await TurnLogRepo(s).list_suggestions(_own(filters, principal))
    return [SuggestionRowOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/feedback")
async def list_feedback(
    state: StateDep, filters: FiltersDep, principal: AgentDep
) -> list[FeedbackRowOut]:
    """Agent feedback, newest first, with edit distance and similarity."""
    async with state.sessions() as s:
        rows = await FeedbackRepo(s).list(_own(filters, principal))
    return [FeedbackRowOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/kb-gaps")
async def list_kb_gaps(state: StateDep, filters: FiltersDep, _: SupervisorDep) -> list[TurnRowOut]:
    """Customer turns the KB could not answer with confidence (redacted text)."""
    async with state.sessions() as s:
        rows = await TurnLogRepo(s).kb_gaps(filters)
    return [TurnRowOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/me")
async def me(principal: AgentDep, request: Request) -> MeOut:
    """Who the presented key belongs to (the panel learns its agent id here)."""
    return MeOut(
        role=principal.role,
        agent_id=principal.agent_id,
        name=principal.name,
        open_access=authenticator(request).open_access,
    )


@router.get("/protocol/schema")
async def protocol_schema() -> ProtocolSchemaOut:
    """JSON Schema of the WebSocket messages: client to server (conversation and audio streams)
    and server to client."""
    return ProtocolSchemaOut(
        client_to_server=CLIENT_MESSAGE.json_schema(),
        server_to_client=TypeAdapter(ServerMessage).json_schema(),
        audio_client_to_server=AUDIO_CLIENT_MESSAGE.json_schema(),
    )
