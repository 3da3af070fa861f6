"""Tables of the console's accounts and their server-side sessions.

A session row keeps only the SHA-256 of its token: a copy of the database cannot be used to
sign in. Failed logins are counted on the account (count, start of the window, lock end).
"""

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from backend.store.models import EnumText, UTCDateTime, utcnow


class Role(StrEnum):
    agent = "agent"
    manager = "manager"  # everything an agent does, plus the CRM dashboard and figures


class Agent(SQLModel, table=True):
    __tablename__ = "agents"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=100)
    role: Role = Field(sa_type=EnumText(Role, 16))
    password_hash: str = Field(max_length=255)
    failed_logins: int = 0
    first_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgentSession(SQLModel, table=True):
    __tablename__ = "agent_sessions"

    token_hash: str = Field(primary_key=True, max_length=64)  # hex SHA-256 of the token
    agent_id: int = Field(foreign_key="agents.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
