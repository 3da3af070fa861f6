"""Reads and writes the action server and the API share.

Address changes: a parcel can be redirected until it is delivered, lost or on its way back.
A parcel already out for delivery can still be redirected, but the driver is on the round, so
the change applies from the next delivery attempt; callers see `shipment.status` and should say
so. Refusals raise `AddressChangeNotAllowed` with a reason worded for the customer;
`address_change_refusal` gives the same reason up front, before asking for the new address.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.store.models import (
    AddressChangeRequest,
    Channel,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from backend.store.tracking_numbers import normalise

NO_REDIRECT: dict[ShipmentStatus, str] = {
    ShipmentStatus.delivered: (
        "It has already been delivered, so there's no delivery left to redirect."
    ),
    ShipmentStatus.lost: (
        "We've declared it lost after searching our network, so there's nothing we can "
        "redirect; a claim for the loss is the way forward."
    ),
    ShipmentStatus.returning: (
        "It's already on its way back to the sender, so we can't send it to a new address; "
        "the sender can arrange a new delivery once it's back."
    ),
    ShipmentStatus.returned: (
        "It has already been returned to the sender, so only the sender can send it out again."
    ),
}


class AddressChangeNotAllowed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def address_change_refusal(shipment: Shipment) -> str | None:
    """Why this shipment cannot be redirected, in the customer's words (None: it can)."""
    return NO_REDIRECT.get(shipment.status)


def find_shipment(session: Session, tracking_number: str) -> Shipment | None:
    """The shipment with this number, however it was typed (case, spaces, dashes)."""
    number = normalise(tracking_number)
    return session.exec(select(Shipment).where(Shipment.tracking_number == number)).first()


def shipment_events(session: Session, shipment_id: int) -> list[TrackingEvent]:
    """The shipment's scans, oldest first."""
    query = (
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id == shipment_id)
        .order_by(col(TrackingEvent.occurred_at), col(TrackingEvent.id))
    )
    return list(session.exec(query))


def request_address_change(
    session: Session,
    shipment: Shipment,
    new_address: str,
    conversation_id: str,
    channel: Channel = Channel.chat,
) -> AddressChangeRequest:
    """Record a pending request to deliver to `new_address` (flushed, not committed)."""
    address = " ".join(new_address.split())
    if not address:
        raise ValueError("the new address is empty")
    refusal = address_change_refusal(shipment)
    if refusal:
        raise AddressChangeNotAllowed(refusal)
    if shipment.id is None:
        raise ValueError("the shipment has not been saved")
    request = AddressChangeRequest(
        shipment_id=shipment.id,
        new_address=address,
        conversation_id=conversation_id,
        channel=channel,
    )
    session.add(request)
    session.flush()
    return request


def consignee_phone_matches(shipment: Shipment, last_digits: str) -> bool:
    """Whether `last_digits` (at least four digits) end the consignee's phone number."""
    digits = "".join(ch for ch in last_digits if ch.isdigit())
    if digits.startswith("0") and len(digits) > 10:  # a full UK number in national format
        digits = digits[1:]
    return len(digits) >= 4 and shipment.consignee_phone.endswith(digits)
