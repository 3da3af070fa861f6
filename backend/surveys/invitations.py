"""Survey invitations: created once per delivery, reached by an unguessable token.

`invite_delivery` is safe to call any number of times, from any number of processes at once:
the invitation's unique `dedupe_key` lets exactly one insert win, and every caller gets that
one invitation back. Addresses that opted out still get an invitation row (status
`opted_out`), so the record shows why no survey went out, but never a message.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend.store.models import Customer, Shipment
from backend.surveys.models import (
    InvitationStatus,
    OutboxChannel,
    OutboxMessage,
    SurveyInvitation,
    SurveyKind,
    SurveyOptOut,
)

DEFAULT_EXPIRY = timedelta(days=7)
TOKEN_BYTES = 24  # 32 URL-safe characters, 192 bits: not guessable, not enumerable
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def looks_like_token(value: str | None) -> bool:
    return bool(value) and _TOKEN_SHAPE.fullmatch(value or "") is not None


def normalise_contact(contact: str) -> str:
    """E-mail addresses in lower case; phone numbers as + and digits only."""
    contact = contact.strip()
    if "@" in contact:
        return contact.lower()
    digits = re.sub(r"\D", "", contact)
    if contact.startswith("+"):
        return "+" + digits
    if digits.startswith("0"):
        return "+44" + digits[1:]  # UK national format
    return "+" + digits if digits else ""


def is_opted_out(session: Session, contact: str) -> bool:
    key = normalise_contact(contact)
    return (
        bool(key)
        and session.exec(select(SurveyOptOut.id).where(SurveyOptOut.contact == key)).first()
        is not None
    )


def opt_out(session: Session, contact: str, now: datetime | None = None) -> bool:
    """Record that `contact` wants no more surveys; pending messages to it are cancelled.

    Returns False when the contact is empty (nothing to record). Safe to repeat.
    """
    from backend.surveys.models import OutboxStatus

    key = normalise_contact(contact)
    if not key:
        return False
    if not is_opted_out(session, key):
        try:
            with session.begin_nested():
                session.add(SurveyOptOut(contact=key, created_at=now or datetime.now(UTC)))
        except IntegrityError:
            pass  # someone opted the same contact out at the same moment
    pending = session.exec(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.pending)
    ).all()
    for message in pending:
        if normalise_contact(message.recipient) == key:
            message.status = OutboxStatus.cancelled
            session.add(message)
    session.flush()
    return True


def find_by_token(session: Session, token: str | None) -> SurveyInvitation | None:
    if not looks_like_token(token):
        return None
    return session.exec(select(SurveyInvitation).where(SurveyInvitation.token == token)).first()


def closed_reason(invitation: SurveyInvitation | None, now: datetime) -> str | None:
    """Why this invitation cannot be answered now: unknown, completed, expired, opted_out."""
    if invitation is None:
        return "unknown"
    if invitation.status is InvitationStatus.completed:
        return "completed"
    if invitation.status is InvitationStatus.opted_out:
        return "opted_out"
    if invitation.expires_at <= now:
        return "expired"
    return None


@dataclass
class Invited:
    invitation: SurveyInvitation
    created: bool


def _create_once(session: Session, invitation: SurveyInvitation) -> Invited:
    """Insert unless an invitation with the same dedupe key exists; return the one that does."""
    existing = session.exec(
        select(SurveyInvitation).where(SurveyInvitation.dedupe_key == invitation.dedupe_key)
    ).first()
    if existing is not None:
        return Invited(existing, created=False)
    try:
        with session.begin_nested():
            session.add(invitation)
    except IntegrityError:
        # A concurrent caller inserted the same key between our look-up and our insert.
        existing = session.exec(
            select(SurveyInvitation).where(SurveyInvitation.dedupe_key == invitation.dedupe_key)
        ).one()
        return Invited(existing, created=False)
    return Invited(invitation, created=True)


def invite_delivery(
    session: Session,
    shipment: Shipment,
    now: datetime | None = None,
    expiry: timedelta = DEFAULT_EXPIRY,
) -> Invited:
    """The one invitation for this delivered shipment, created on the first call."""
    now = now or datetime.now(UTC)
    contact = normalise_contact(shipment.consignee_phone)
    status = InvitationStatus.opted_out if is_opted_out(session, contact) else None
    return _create_once(
        session,
        SurveyInvitation(
            token=new_token(),
            kind=SurveyKind.delivery,
            dedupe_key=f"delivery:{shipment.id}",
            shipment_id=shipment.id,
            customer_id=shipment.customer_id,
            contact=contact,
            status=status or InvitationStatus.pending,
            created_at=now,
            expires_at=now + expiry,
        ),
    )


def invite_on_request(
    session: Session,
    shipment: Shipment | None,
    conversation_id: str,
    now: datetime | None = None,
    expiry: timedelta = DEFAULT_EXPIRY,
    reuse_delivery: bool = True,
) -> SurveyInvitation:
    """A survey the user asked for in chat: a delivered shipment's own invitation while it is
    open (or answered) and `reuse_delivery` allows it (the chat proved it is the recipient's),
    otherwise a fresh one (about the shipment, or general) that reaches no phone or e-mail."""
    now = now or datetime.now(UTC)
    if shipment is not None and reuse_delivery:
        existing = session.exec(
            select(SurveyInvitation).where(SurveyInvitation.dedupe_key == f"delivery:{shipment.id}")
        ).first()
        if existing is not None and closed_reason(existing, now) in (None, "completed"):
            return existing  # open: answer it here; completed: the caller says so
    invitation = SurveyInvitation(
        token=new_token(),
        kind=SurveyKind.on_request,
        shipment_id=shipment.id if shipment else None,
        customer_id=shipment.customer_id if shipment else None,
        contact="",
        conversation_id=conversation_id,
        created_at=now,
        expires_at=now + expiry,
    )
    session.add(invitation)
    session.flush()
    return invitation


def survey_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/?survey={quote(token)}"


def opt_out_link(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/api/surveys/{quote(token)}/opt-out"


def queue_message(
    session: Session,
    invitation: SurveyInvitation,
    public_url: str,
    shipment: Shipment | None = None,
    customer: Customer | None = None,
) -> OutboxMessage | None:
    """Put the invitation in the outbox as an SMS (consignee) or e-mail (business customer).

    Nothing is queued for an opted-out contact, nor twice for the same invitation.
    """
    if invitation.status is InvitationStatus.opted_out or not invitation.contact:
        return None
    if is_opted_out(session, invitation.contact):
        return None
    already = session.exec(
        select(OutboxMessage.id).where(OutboxMessage.invitation_id == invitation.id)
    ).first()
    if already is not None:
        return None
    channel, body = message_for(invitation, public_url, shipment, customer)
    message = OutboxMessage(
        invitation_id=invitation.id,
        channel=channel,
        recipient=invitation.contact,
        body=body,
    )
    session.add(message)
    session.flush()
    return message


def message_for(
    invitation: SurveyInvitation,
    public_url: str,
    shipment: Shipment | None = None,
    customer: Customer | None = None,
) -> tuple[OutboxChannel, str]:
    """The channel and text of an invitation's message, with its survey and stop links."""
    link = survey_link(public_url, invitation.token)
    stop = opt_out_link(public_url, invitation.token)
    if invitation.kind is SurveyKind.relationship:
        name = customer.contact_name if customer else "there"
        body = (
            f"Dear {name}, how likely are you to recommend Parcelline to a colleague? "
            f"Two questions, one minute: {link} . No more surveys: {stop}"
        )
        return OutboxChannel.email, body
    number = shipment.tracking_number if shipment else "your parcel"
    body = f"Parcelline: {number} has been delivered. How did we do? {link} Stop surveys: {stop}"
    return OutboxChannel.sms, body
