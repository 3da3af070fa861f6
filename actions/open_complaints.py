"""The one-time reminder of an open complaint: whoever tracks, asks about or changes a parcel
with an open ticket hears of the ticket once per conversation.

Tickets are found through this conversation (it filed them) or through the parcel being
discussed, never through the shipper's other parcels: knowing one tracking number must not
reveal complaints about another.
"""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session

from backend.complaints import service

OPEN_COMPLAINT_NOTE = (
    "By the way, your complaint {reference} is {status}. Ask me about it any time, quoting "
    "the reference."
)


def open_complaint_note(
    session: Session, tracker: Tracker, shipment_ids: list[int]
) -> tuple[str | None, list[EventType]]:
    """A one-time reminder of an open complaint filed in this conversation or about one of
    these shipments, with the event remembering that it was said."""
    already = list(tracker.get_slot("complaints_mentioned") or [])
    tickets = service.open_tickets(session, conversation_id=tracker.sender_id)
    for shipment_id in shipment_ids:
        tickets += service.open_tickets(session, shipment_id=shipment_id)
    for ticket in tickets:
        if ticket.reference and ticket.reference not in already:
            text = OPEN_COMPLAINT_NOTE.format(
                reference=ticket.reference, status=service.STATUS_WORDS[ticket.status]
            )
            return text, [SlotSet("complaints_mentioned", [*already, ticket.reference])]
    return None, []


def remind_of_open_complaint(
    dispatcher: CollectingDispatcher, session: Session, tracker: Tracker, shipment_ids: list[int]
) -> list[EventType]:
    """Say the reminder if one is due; the events remembering it was said."""
    note, noted = open_complaint_note(session, tracker, shipment_ids)
    if note:
        dispatcher.utter_message(text=note)
    return noted
