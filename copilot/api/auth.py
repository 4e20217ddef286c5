"""Who is calling: API keys to roles, and the checks each route and stream applies.

Keys come from settings (``COPILOT_API_KEYS``). REST callers send ``Authorization: Bearer <key>``
(or ``X-API-Key``); a browser WebSocket cannot set headers, so the stream also takes
``?access_token=<key>``. In open access (the local demo) every caller is an admin.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from copilot.domain import Role
from copilot.errors import ConfigError, ForbiddenError, UnauthenticatedError
from copilot.service.assist import AssistService
from copilot.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: its role and, for an agent, the agent id it acts for."""

    role: Role
    agent_id: str | None = None
    name: str | None = None

    def has(self, role: Role) -> bool:
        """Whether this caller's role includes ``role``."""
        return self.role.rank >= role.rank

    def check_agent(self, agent_id: str) -> None:
        """An agent may act only as itself; supervisors and admins as anyone.

        Raises:
            ForbiddenError: An agent key used for another agent's id.
        """
        if self.role is Role.AGENT and agent_id != self.agent_id:
            raise ForbiddenError(f"agent {self.agent_id} may not act as agent {agent_id}")


def _digest(key: str) -> str:
    # Keys are looked up by digest: the table never holds the secrets, and a lookup does not
    # compare secrets character by character.
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator:
    """Maps presented keys to principals; built once per app from settings."""

    def __init__(self, settings: Settings) -> None:
        self.open_access = settings.open_access
        self._keys = {
            _digest(k.key.get_secret_value()): Principal(k.role, k.agent_id, k.name)
            for k in settings.api_keys
        }
        if len(self._keys) != len(settings.api_keys):
            raise ConfigError("COPILOT_API_KEYS holds the same key twice")
        if not self._keys and not self.open_access:
            raise ConfigError(
                "no API keys configured: set COPILOT_API_KEYS, or COPILOT_OPEN_ACCESS=true "
                "for a local demo"
            )

    def log_mode(self) -> None:
        """Say at start how callers are checked (open access is a warning)."""
        if self.open_access:
            logger.warning("open_access: every caller is admin and needs no key; demo use only")
        else:
            logger.info("api_keys_loaded count=%d", len(self._keys))

    def principal(self, token: str | None) -> Principal:
        """The caller behind ``token``.

        Raises:
            UnauthenticatedError: No token (outside open access), or an unknown one.
        """
        if token:
            found = self._keys.get(_digest(token))
            if found is not None:
                return found
            if not self.open_access:
                raise UnauthenticatedError("unknown API key")
        if self.open_access:
            return Principal(Role.ADMIN, None, "open-access")
        raise UnauthenticatedError("an API key is required (Authorization: Bearer <key>)")


def presented_token(conn: HTTPConnection, *, allow_query: bool = False) -> str | None:
    """The key a request or WebSocket presents: bearer header, ``X-API-Key``, or (``allow_query``,
    for WebSockets) the ``access_token`` query parameter."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = conn.headers.get("x-api-key")
    if key:
        return key.strip()
    if allow_query:
        return conn.query_params.get("access_token") or None
    return None


def authenticator(conn: HTTPConnection) -> Authenticator:
    """The app's authenticator (set by `create_app`)."""
    auth: Authenticator = conn.app.state.authenticator
    return auth


# Declared for the OpenAPI document only (the Authorize button of /docs): they never refuse a
# request, `presented_token` reads the key and `Authenticator` decides, as for the WebSocket.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key from COPILOT_API_KEYS: `Authorization: Bearer <key>`.",
)
_API_KEY = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in an `X-API-Key` header.",
)


def current_principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    _api_key: Annotated[str | None, Security(_API_KEY)],
) -> Principal:
    """The REST caller (dependency)."""
    return authenticator(request).principal(presented_token(request))


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits callers whose role includes ``role``."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(role):
            raise ForbiddenError(f"this needs the {role.value} role")
        return principal

    return check


async def ensure_owner(principal: Principal, service: AssistService, conversation_id: str) -> None:
    """An agent may only touch its own conversations (a new one is its own).

    Raises:
        ForbiddenError: The conversation belongs to another agent.
    """
    if principal.role is not Role.AGENT:
        return
    owner = await service.owner(conversation_id)
    if owner is not None and owner != principal.agent_id:
        raise ForbiddenError(f"conversation {conversation_id} belongs to another agent")


AgentDep = Annotated[Principal, Depends(require(Role.AGENT))]
SupervisorDep = Annotated[Principal, Depends(require(Role.SUPERVISOR))]
AdminDep = Annotated[Principal, Depends(require(Role.ADMIN))]
