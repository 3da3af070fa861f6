"""Tables of the survey feature: invitations, answers, outbox, opt-outs, follow-ups, samples.

An invitation is one chance to answer one survey, reached by an unguessable token; its
`dedupe_key` is unique, so the same delivery (or the same monthly sample) can never be invited
twice, however many times or however concurrently its event arrives.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.store.models import EnumText, UTCDateTime, utcnow


class SurveyKind(StrEnum):
    delivery = "delivery"  # after a parcel was delivered
    on_request = "on_request"  # the user asked to leave feedback
    relationship = "relationship"  # monthly sample of business customers


class InvitationStatus(StrEnum):
    pending = "pending"
    started = "started"
    completed = "completed"
    opted_out = "opted_out"  # created for the record, never sent: the address opted out


class OutboxChannel(StrEnum):
    sms = "sms"
    email = "email"


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class FollowUpStatus(StrEnum):
    open = "open"
    done = "done"


class SurveyInvitation(SQLModel, table=True):
    __tablename__ = "survey_invitations"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True, index=True)
    kind: SurveyKind = Field(sa_type=EnumText(SurveyKind))
    dedupe_key: str | None = Field(default=None, max_length=100, unique=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipments.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id", index=True)
    contact: str = Field(default="", max_length=254)  # phone or e-mail the survey goes to
    status: InvitationStatus = Field(
        default=InvitationStatus.pending, sa_type=EnumText(InvitationStatus)
    )
    conversation_id: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SurveyAnswer(SQLModel, table=True):
    """One answer as given; a skipped question is stored as skipped (no value)."""

    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("invitation_id", "question", name="uq_survey_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    invitation_id: int = Field(foreign_key="survey_invitations.id", ondelete="CASCADE")
    question: str = Field(max_length=20)
    score: int | None = None  # numeric answers; yes/no as 1/0
    text: str | None = Field(default=None, max_length=2000)  # the user's words
    skipped: bool = False
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OutboxMessage(SQLModel, table=True):
    """An SMS or e-mail for a gateway to send; sending itself happens elsewhere."""

    __tablename__ = "outbox_messages"

    id: int | None = Field(default=None, primary_key=True)
    invitation_id: int = Field(foreign_key="survey_invitations.id", index=True, ondelete="CASCADE")
    channel: OutboxChannel = Field(sa_type=EnumText(OutboxChannel))
    recipient: str = Field(max_length=254)
    body: str = Field(max_length=1000)
    status: OutboxStatus = Field(
        default=OutboxStatus.pending, sa_type=EnumText(OutboxStatus), index=True
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SurveyOptOut(SQLModel, table=True):
    __tablename__ = "survey_opt_outs"

    id: int | None = Field(default=None, primary_key=True)
    contact: str = Field(max_length=254, unique=True)  # normalised phone or e-mail
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FollowUpTask(SQLModel, table=True):
    """Service recovery for an unhappy answer: someone must get back to the customer."""

    __tablename__ = "survey_follow_ups"

    id: int | None = Field(default=None, primary_key=True)
    invitation_id: int = Field(foreign_key="survey_invitations.id", unique=True, ondelete="CASCADE")
    reasons: str = Field(max_length=300)  # e.g. "CSAT 1; damaged"
    priority_callback: bool = False  # A-tier: a person calls back within 4 hours
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: FollowUpStatus = Field(default=FollowUpStatus.open, sa_type=EnumText(FollowUpStatus))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RelationshipSample(SQLModel, table=True):
    """Who the monthly relationship sample picked, for which manager, and why."""

    __tablename__ = "relationship_samples"
    __table_args__ = (UniqueConstraint("period", "customer_id", name="uq_relationship_sample"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7, index=True)  # YYYY-MM
    customer_id: int = Field(foreign_key="customers.id")
    account_manager: str = Field(max_length=100)
    weight: float
    reasons: str = Field(max_length=200)  # e.g. "A-tier; at risk: shipments down 60%"
    invitation_id: int | None = Field(default=None, foreign_key="survey_invitations.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
