"""Who may call what: agents and managers (a console session, by cookie or bearer token) and
internal callers (carrier systems, scheduled jobs; a token from the environment).

One dependency serves every agent and manager endpoint. The console sends its session cookie
(HttpOnly, SameSite=Strict); API clients send the same session's token as
`Authorization: Bearer ...` (from POST /api/agent/login). A cookie-authenticated write must
also come from this site's own pages (its Origin, or else Referer, names this host): the CSRF
fence besides SameSite. A bearer token is never sent by a browser on its own, so needs none.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.agents.models import Role
from backend.agents.service import Identity, session_identity
from backend.api.routes import SessionDep, SettingsDep
from backend.api.schemas import refusal

SESSION_COOKIE = "parcelline_agent"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def require_internal_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    token = settings.secret("internal_api_token")
    expected = f"Bearer {token}".encode()
    given = (authorization or "").encode()
    if not token or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "This endpoint needs the internal API token (Authorization: Bearer ...).",
            headers={"WWW-Authenticate": "Bearer"},
        )


InternalAuth = Depends(require_internal_token)
Internal = Annotated[None, InternalAuth]


_bearer = HTTPBearer(auto_error=False)


def same_origin(request: Request) -> bool:
    """Whether the request says it comes from a page of this host (Origin, else Referer)."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    host = request.headers.get("host", "")
    return bool(source) and source != "null" and urlsplit(source).netloc == host


def optional_agent(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Identity | None:
    """The signed-in agent, or None (for pages that redirect to the login instead)."""
    if credentials is not None:
        return session_identity(session, credentials.credentials, settings)
    token = request.cookies.get(SESSION_COOKIE, "")
    identity = session_identity(session, token, settings) if token else None
    if identity is not None and request.method not in SAFE_METHODS and not same_origin(request):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "This request did not come from the console's own pages."
        )
    return identity


def require_agent(identity: Annotated[Identity | None, Depends(optional_agent)]) -> Identity:
    """Agents and managers."""
    if identity is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Please sign in to the agent console (or send a session token as Bearer).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return identity


def require_manager(identity: Annotated[Identity, Depends(require_agent)]) -> Identity:
    """Managers only."""
    if identity.role is not Role.manager:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This is for managers only.")
    return identity


AgentDep = Annotated[Identity, Depends(require_agent)]
ManagerDep = Annotated[Identity, Depends(require_manager)]

# What these dependencies refuse with, for the `responses=` of the routes that use them.
INTERNAL_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: refusal("Without the internal API token.")
}
AGENT_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: refusal("Not signed in to the agent console (cookie or bearer session)."),
    403: refusal("A write with the console's cookie from a page of another site."),
}
MANAGER_REFUSALS = AGENT_REFUSALS | {403: refusal("For managers only.")}
