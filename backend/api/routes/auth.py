"""Bearer-token checks: agents' and managers' endpoints, and internal ones (carrier systems,
scheduled jobs). Tokens come from the environment; an empty token refuses every request."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.api.routes import SettingsDep


def require_internal_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    expected = f"Bearer {settings.internal_api_token}".encode()
    given = (authorization or "").encode()
    if not settings.internal_api_token or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "This endpoint needs the internal API token (Authorization: Bearer ...).",
            headers={"WWW-Authenticate": "Bearer"},
        )


InternalAuth = Depends(require_internal_token)
Internal = Annotated[None, InternalAuth]


_bearer = HTTPBearer(auto_error=False)


def require_agent_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Agents and managers, until the console brings per-agent logins."""
    expected = settings.agent_api_token
    given = credentials.credentials if credentials else ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "An agent token is required.",
            headers={"WWW-Authenticate": "Bearer"},
        )
