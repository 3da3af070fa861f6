"""Agent accounts: password hashing, lockout, sessions that expire and end, demo accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from backend.agents import passwords
from backend.agents.models import Agent, AgentSession, Role
from backend.agents.service import (
    LoginRefused,
    authenticate,
    create_agent,
    end_session,
    ensure_demo_agents,
    session_identity,
    start_session,
    token_hash,
)
from backend.config import Settings
from backend.store.models import utcnow

SETTINGS = Settings(log_level="WARNING")
PASSWORD = "correct horse battery"


@pytest.fixture
def agent(session: Session) -> Agent:
    made = create_agent(session, "Priya", PASSWORD, Role.agent, "Priya Shah")
    session.commit()
    return made


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = passwords.hash_password(PASSWORD), passwords.hash_password(PASSWORD)
    assert first != second and PASSWORD not in first
    assert first.startswith("scrypt$16384$8$1$")
    assert passwords.verify_password(PASSWORD, first)
    assert not passwords.verify_password(PASSWORD + "!", first)
    assert not passwords.verify_password(PASSWORD, "not-a-hash")


def test_short_passwords_are_refused(session: Session) -> None:
    with pytest.raises(ValueError):
        create_agent(session, "kim", "short", Role.agent, "Kim")


def test_login_is_case_insensitive_on_the_name_only(session: Session, agent: Agent) -> None:
    assert authenticate(session, " PRIYA ", PASSWORD, SETTINGS).id == agent.id
    with pytest.raises(LoginRefused, match="Wrong username or password"):
        authenticate(session, "priya", PASSWORD.upper(), SETTINGS)
    with pytest.raises(LoginRefused, match="Wrong username or password"):
        authenticate(session, "nobody", PASSWORD, SETTINGS)


def test_five_failures_lock_the_account_for_a_while(session: Session, agent: Agent) -> None:
    now = utcnow()
    for attempt in range(4):
        with pytest.raises(LoginRefused, match="Wrong"):
            authenticate(session, "priya", "wrong", SETTINGS, now + timedelta(seconds=attempt))
    with pytest.raises(LoginRefused, match="locked for 15 minutes"):
        authenticate(session, "priya", "wrong", SETTINGS, now + timedelta(minutes=1))
    # Locked: even the right password is refused until the lock ends.
    with pytest.raises(LoginRefused, match="locked"):
        authenticate(session, "priya", PASSWORD, SETTINGS, now + timedelta(minutes=10))
    later = now + timedelta(minutes=17)
    assert authenticate(session, "priya", PASSWORD, SETTINGS, later).id == agent.id


def test_failures_spread_beyond_the_window_do_not_lock(session: Session, agent: Agent) -> None:
    now = utcnow()
    for attempt in range(8):
        with pytest.raises(LoginRefused, match="Wrong"):
            authenticate(session, "priya", "wrong", SETTINGS, now + timedelta(minutes=4 * attempt))
    assert authenticate(session, "priya", PASSWORD, SETTINGS, now + timedelta(minutes=40))


def test_a_session_ends_when_idle_too_long_or_too_old(session: Session, agent: Agent) -> None:
    now = utcnow()
    token = start_session(session, agent, SETTINGS, now)
    session.commit()
    assert session.get(AgentSession, token_hash(token)) is not None
    assert session.get(AgentSession, token) is None  # only the hash is stored
    identity = session_identity(session, token, SETTINGS, now + timedelta(minutes=30))
    assert identity is not None and identity.role is Role.agent
    # 30 minutes after the last request, then 61 more idle: gone.
    assert session_identity(session, token, SETTINGS, now + timedelta(minutes=92)) is None
    assert session.get(AgentSession, token_hash(token)) is None

    fresh = start_session(session, agent, SETTINGS, now)
    session.commit()
    step = now
    for _ in range(9):  # active every 55 minutes, still ended by the 8-hour limit
        step += timedelta(minutes=55)
        alive = session_identity(session, fresh, SETTINGS, step)
    assert alive is None


def test_logout_ends_the_session_and_each_login_is_a_new_one(
    session: Session, agent: Agent
) -> None:
    first = start_session(session, agent, SETTINGS)
    second = start_session(session, agent, SETTINGS)
    assert first != second
    end_session(session, first)
    session.commit()
    assert session_identity(session, first, SETTINGS) is None
    assert session_identity(session, second, SETTINGS) is not None
    assert session_identity(session, "", SETTINGS) is None
    assert session_identity(session, "x" * 500, SETTINGS) is None


def test_demo_accounts_come_from_the_settings_once(session: Session) -> None:
    settings = Settings(demo_agent_username="desk", demo_agent_password="a-long-demo-secret")
    assert ensure_demo_agents(session, settings) == ["desk", "manager"]
    assert ensure_demo_agents(session, settings) == []
    assert authenticate(session, "desk", "a-long-demo-secret", settings).role is Role.agent
    none = Settings(demo_agent_password="", demo_manager_password="")
    assert ensure_demo_agents(session, none) == []


def test_production_never_creates_accounts_with_the_published_demo_passwords(
    session: Session,
) -> None:
    published = Settings(parcelline_mode="production")
    assert published.secret("demo_manager_password") == ""
    assert published.secret("internal_api_token") == ""
    assert ensure_demo_agents(session, published) == []
    own = Settings(parcelline_mode="production", demo_manager_password="our-own-long-secret")
    assert ensure_demo_agents(session, own) == ["manager"]
    assert Settings().secret("demo_manager_password") == "parcelline-manager-demo"  # a demo
