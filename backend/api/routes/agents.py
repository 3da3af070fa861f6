"""Signing in and out of the agent console.

POST /api/agent/login sets the session cookie (HttpOnly, SameSite=Strict, Secure over https;
a new session id at every login) and returns the same session's token for API clients.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from backend.agents.models import Role
from backend.agents.service import (
    Identity,
    LoginRefused,
    authenticate,
    end_session,
    identity_of,
    start_session,
)
from backend.api.login_throttle import TOO_MANY, LoginThrottle
from backend.api.routes import SessionDep, SettingsDep
from backend.api.routes.auth import (
    AGENT_REFUSALS,
    SESSION_COOKIE,
    AgentDep,
    require_agent,
    same_origin,
)
from backend.api.schemas import refusal
from knowledge.index import preload as preload_knowledge

router = APIRouter(prefix="/api/agent", tags=["agent accounts"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class AgentOut(BaseModel):
    username: str
    display_name: str
    role: Role


class LoginOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer ...` from API clients.")
    expires_in: int = Field(description="Seconds until the session ends at the latest.")
    agent: AgentOut


def _agent_out(identity: Identity) -> AgentOut:
    return AgentOut(
        username=identity.username, display_name=identity.display_name, role=identity.role
    )


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Sign in (console cookie and bearer token)",
    responses={
        401: refusal("Wrong credentials or account locked."),
        403: refusal("A sign-in with a cookie from a page of another site."),
        429: refusal("Too many failed sign-ins from this address; see Retry-After."),
    },
)
def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> LoginOut:
    """Checks the password (five failures in 15 minutes lock the account), starts a new session,
    sets the HttpOnly SameSite=Strict cookie and returns the same session's bearer token. 401
    for wrong credentials or a locked account; 429 once one address has failed
    `LOGIN_MAX_FAILURES_PER_IP` times in the window, whatever the accounts.
    """
    # A browser posting from another site is refused before any password is checked.
    if request.headers.get("origin") and not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Sign in from the console's own page.")
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else None
    wait = throttle.retry_after(address)
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            TOO_MANY.format(minutes=max(1, round(wait / 60))),
            headers={"Retry-After": str(wait)},
        )
    try:
        agent = authenticate(session, body.username, body.password, settings)
    except LoginRefused as refused:
        throttle.failed(address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(refused)) from None
    # A session the browser already had is ended: the new id replaces it.
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(session, old)
    token = start_session(session, agent, settings)
    session.commit()
    # Only agents use the knowledge index here (call assist, the knowledge API): the encoder
    # (torch and the model, about 450 MB) is loaded when the first one signs in, not for
    # every worker at start.
    preload_knowledge()
    max_age = int(settings.agent_session_hours * 3600)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return LoginOut(token=token, expires_in=max_age, agent=_agent_out(identity_of(agent)))


_bearer = HTTPBearer(auto_error=False)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out",
    responses=AGENT_REFUSALS,
)
def logout(
    request: Request,
    session: SessionDep,
    _identity: AgentDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    """Ends the session of the cookie or bearer token and clears the cookie."""
    token = credentials.credentials if credentials else request.cookies.get(SESSION_COOKIE, "")
    end_session(session, token)
    session.commit()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=AgentOut, summary="Who is signed in", responses=AGENT_REFUSALS)
def me(identity: Annotated[Identity, Depends(require_agent)]) -> AgentOut:
    """The signed-in agent or manager: username, display name and role."""
    return _agent_out(identity)
