"""The call assist: from what a caller says (as the agent types it), the shipment and the
customer it is about, a suggested reply made by the bot's own logic, the knowledge passages
behind it, and the form to open, prefilled.

Replies are never written here: tracking answers come from backend.tracking (what
action_track_shipment says), answers to questions from the knowledge index as
action_answer_question gives them, complaint categories from the complaint form's detector.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session

from actions import messages
from actions.complaints import detect_category
from backend.console.customers import search_customers, shipment_view
from backend.store import tracking_numbers
from backend.store.models import Customer, utcnow
from backend.store.queries import find_shipment
from knowledge import get_index

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?:\+?\d[\d ]{8,}\d)")
PASSAGES = 3
COMPLAINT_INTENTS = {"file_complaint"}
ADDRESS_INTENTS = {"change_delivery_address"}
SURVEY_INTENTS = {"give_feedback", "survey_answer"}


def _customer_out(customer: Customer) -> dict[str, Any]:
    return {"code": customer.code, "name": customer.name, "contact_name": customer.contact_name}


def assist(
    session: Session, text: str, parsed: dict[str, Any] | None, now: datetime | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    intent = ((parsed or {}).get("intent") or {}).get("name") or None
    confidence = ((parsed or {}).get("intent") or {}).get("confidence")
    entities = [
        {"entity": e.get("entity"), "value": e.get("value")}
        for e in (parsed or {}).get("entities", [])
    ]

    shipments = []
    customers: list[Customer] = []
    for number in tracking_numbers.find_candidates(text)[:3]:
        shipment = find_shipment(session, number)
        if shipment is None:
            continue
        shipments.append(shipment_view(session, shipment, now))
        owner = session.get(Customer, shipment.customer_id)
        if owner is not None and owner not in customers:
            customers.append(owner)
    for term in EMAIL.findall(text) + PHONE.findall(text):
        for customer in search_customers(session, term, limit=3):
            if customer not in customers:
                customers.append(customer)

    index = get_index()
    result = index.search(text, k=PASSAGES + 2)
    passages = [
        {
            "id": h.id,
            "title": h.title,
            "topic": h.topic,
            "score": round(h.score, 3),
            "text": h.text,
            "source": index.by_id[h.id].source if h.id in index.by_id else "",
        }
        for h in result.hits[:PASSAGES]
    ]

    reply, form = None, None
    first_number = shipments[0]["tracking_number"] if shipments else None
    if intent in COMPLAINT_INTENTS or (intent is None and detect_category(text)):
        category = detect_category(text)
        form = {
            "kind": "complaint",
            "category": category.value if category else "other",
            "tracking_number": first_number,
            "description": text,
        }
    elif intent in ADDRESS_INTENTS:
        form = {"kind": "address_change", "tracking_number": first_number}
    elif intent in SURVEY_INTENTS:
        form = {"kind": "survey", "tracking_number": first_number}
    if shipments and intent not in SURVEY_INTENTS:
        reply = "\n".join(s["summary"] for s in shipments)
    elif result.confident and result.hits:
        best = result.hits[0]
        sentences = index.best_sentences(text, best.id)
        reply = messages.KNOWLEDGE_ANSWER.format(answer=" ".join(sentences), title=best.title)
    elif tracking_numbers.find_candidates(text):
        reply = messages.UNKNOWN_NUMBER.format(number=tracking_numbers.find_candidates(text)[0])
    return {
        "text": text,
        "intent": intent,
        "confidence": confidence,
        "entities": entities,
        "nlu_available": parsed is not None,
        "shipments": shipments,
        "customers": [_customer_out(c) for c in customers[:5]],
        "suggested_reply": reply,
        "passages": passages,
        "form": form,
    }
