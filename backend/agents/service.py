"""Accounts, logins with lockout, and server-side sessions.

Every function works inside the caller's session and transaction; `now` is a parameter so
tests can move the clock.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from backend.agents.models import Agent, AgentSession, Role
from backend.agents.passwords import DUMMY_HASH, MAX_PASSWORD_CHARS, hash_password, verify_password
from backend.config import Settings
from backend.store.models import utcnow

logger = logging.getLogger("backend.agents")

MIN_PASSWORD_CHARS = 10


class LoginRefused(Exception):
    """Wrong credentials or a locked account; the message is safe to show."""


WRONG_CREDENTIALS = "Wrong username or password."
LOCKED = "Too many failed attempts: this account is locked for {minutes} minutes."


@dataclass(frozen=True)
class Identity:
    """Who is calling an agent endpoint."""

    agent_id: int
    username: str
    display_name: str
    role: Role


def identity_of(agent: Agent) -> Identity:
    assert agent.id is not None
    return Identity(agent.id, agent.username, agent.display_name, Role(agent.role))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_agent(
    session: Session, username: str, password: str, role: Role, display_name: str
) -> Agent:
    if len(password) < MIN_PASSWORD_CHARS or len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(
            f"a password needs {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )
    agent = Agent(
        username=username.strip().lower(),
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(agent)
    session.flush()
    return agent


def find_agent(session: Session, username: str) -> Agent | None:
    name = username.strip().lower()
    return session.exec(select(Agent).where(Agent.username == name)).first()


def authenticate(
    session: Session, username: str, password: str, settings: Settings, now: datetime | None = None
) -> Agent:
    """The agent whose password this is; LoginRefused otherwise (and failures counted)."""
    now = now or utcnow()
    agent = find_agent(session, username[:64])
    if agent is None:
        verify_password(password, DUMMY_HASH)  # same cost as a known name
        raise LoginRefused(WRONG_CREDENTIALS)
    if agent.locked_until is not None and agent.locked_until > now:
        minutes = max(1, round((agent.locked_until - now).total_seconds() / 60))
        raise LoginRefused(LOCKED.format(minutes=minutes))
    if verify_password(password, agent.password_hash):
        agent.failed_logins = 0
        agent.first_failure_at = None
        agent.locked_until = None
        session.add(agent)
        return agent
    window = timedelta(minutes=settings.login_failure_window_minutes)
    if agent.first_failure_at is None or now - agent.first_failure_at > window:
        agent.first_failure_at = now
        agent.failed_logins = 0
    agent.failed_logins += 1
    locked = agent.failed_logins >= settings.login_max_failures
    if locked:
        agent.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
        agent.failed_logins = 0
        agent.first_failure_at = None
        logger.warning("agent %s locked after repeated failed logins", agent.username)
    session.add(agent)
    session.commit()  # the count must survive the refusal
    if locked:
        raise LoginRefused(LOCKED.format(minutes=round(settings.login_lock_minutes)))
    raise LoginRefused(WRONG_CREDENTIALS)


def start_session(
    session: Session, agent: Agent, settings: Settings, now: datetime | None = None
) -> str:
    """A fresh random token (a new id on every login); only its hash is stored."""
    now = now or utcnow()
    assert agent.id is not None
    token = secrets.token_urlsafe(32)
    session.add(
        AgentSession(
            token_hash=token_hash(token),
            agent_id=agent.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.agent_session_hours),
        )
    )
    # Sessions that ended long ago go on each login, so the table stays small.
    session.exec(delete(AgentSession).where(col(AgentSession.expires_at) < now))  # type: ignore[call-overload]
    session.flush()
    return token


def session_identity(
    session: Session, token: str, settings: Settings, now: datetime | None = None
) -> Identity | None:
    """The agent of a live session (and the session's idle clock restarted), else None."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    row = session.get(AgentSession, token_hash(token))
    if row is None:
        return None
    idle = timedelta(minutes=settings.agent_idle_minutes)
    if row.expires_at <= now or now - row.last_seen_at > idle:
        session.delete(row)
        session.commit()
        return None
    agent = session.get(Agent, row.agent_id)
    if agent is None:
        return None
    # Written at most once a minute: most requests only read.
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return identity_of(agent)


def end_session(session: Session, token: str) -> None:
    row = session.get(AgentSession, token_hash(token))
    if row is not None:
        session.delete(row)
        session.flush()


def ensure_demo_agents(session: Session, settings: Settings) -> list[str]:
    """Create the demo agent and manager from the settings when missing; their usernames."""
    created = []
    accounts = [
        (
            settings.demo_agent_username,
            settings.secret("demo_agent_password"),
            Role.agent,
            "Demo Agent",
        ),
        (
            settings.demo_manager_username,
            settings.secret("demo_manager_password"),
            Role.manager,
            "Demo Manager",
        ),
    ]
    for username, password, role, display_name in accounts:
        if not username or not password or find_agent(session, username) is not None:
            continue
        create_agent(session, username, password, role, display_name)
        created.append(username)
    return created
