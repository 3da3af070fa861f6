"""A complaint through the real servers: filed in the chat, updated by an agent over the API,
and the update heard by the shipper; a stranger without proof sees nothing."""

from __future__ import annotations

import re

import httpx

from backend.complaints import service
from backend.complaints.models import Category
from backend.store.db import session_scope
from backend.store.models import Shipment
from backend.store.queries import find_shipment
from scripts.stack import Stack
from tests.e2e.conftest import Chat, agent_headers

REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")


def test_complaint_filed_updated_and_looked_up(
    chat: Chat, stack: Stack, examples: dict[str, Shipment]
) -> None:
    parcel = examples["damaged"]
    first = chat.say_text(f"my parcel {parcel.tracking_number} arrived crushed")
    assert "what happened" in first.lower()
    asked_amount = chat.say_text("the box was flattened and the mug inside is broken")
    assert "how much" in asked_amount.lower()
    assert "photos" in chat.say_text(f"£{parcel.declared_value / 2:.2f}").lower()
    assert "get back to you" in chat.say_text("no").lower()
    filed = chat.say_text("chat")
    found = REFERENCE.search(filed)
    assert found, filed
    reference = found.group(0)
    assert "within" in filed

    # The same parcel and problem again: added to the open ticket, not a second one.
    again = chat.say_text(f"{parcel.tracking_number} arrived damaged, I want to complain")
    assert "what happened" in again.lower()
    chat.say_text("the handle of the mug is also snapped off")
    chat.say_text(f"£{parcel.declared_value / 2:.2f}")
    chat.say_text("yes")
    merged = chat.say_text("chat")
    assert reference in merged and "already" in merged

    # An agent takes it and writes a note; the shipper hears it next.
    headers = agent_headers(stack)
    with httpx.Client(base_url=stack.backend_url, headers=headers, timeout=30) as agent:
        assert (
            agent.get("/api/agent/complaints", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
        listed = agent.get("/api/agent/complaints").json()
        assert reference in [t["reference"] for t in listed]
        taken = agent.post(
            f"/api/agent/complaints/{reference}/status",
            json={"status": "in_progress", "author": "Priya Shah", "note": "Claim approved"},
        )
        assert taken.status_code == 200, taken.text
    answer = chat.say_text(f"what's happening with my complaint {reference}?")
    assert "Demo Agent" in answer and "Claim approved" in answer  # the signed-in agent


def test_a_stranger_needs_proof(chat: Chat, e2e_store: str, examples: dict[str, Shipment]) -> None:
    parcel = examples["lost"]
    with session_scope(e2e_store) as session:
        shipment = find_shipment(session, parcel.tracking_number)
        filed = service.file_complaint(
            session,
            category=Category.lost,
            description="Never arrived, tracking stopped a week ago.",
            shipment=shipment,
            conversation_id="another-conversation",
        )
        reference = filed.ticket.reference
    asked = chat.say_text(f"status of complaint {reference}")
    assert "tracking number" in asked.lower()
    refused = chat.say_text(examples["in transit"].tracking_number)
    assert "doesn't match" in refused and "lost" not in refused.lower()
    shown = chat.say_text(parcel.tracking_number)
    assert reference in shown


def test_questions_in_the_middle_of_a_claim(chat: Chat, examples: dict[str, Shipment]) -> None:
    # A parcel no other test complains about, so a new ticket shows which parcel it is about.
    parcel, other = examples["delivered on time"], examples["in transit"]
    assert (
        "what happened"
        in chat.say_text(f"my parcel {parcel.tracking_number} arrived crushed").lower()
    )
    tracked = chat.say_text(f"hang on, where is {other.tracking_number} right now?")
    assert other.tracking_number in tracked
    assert "back to your complaint" in tracked.lower() and "what happened" in tracked.lower()
    asked_amount = chat.say_text("the box was flattened and the lamp inside is broken")
    assert "how much" in asked_amount.lower()
    answered = chat.say_text("how long do I have to report damage?")
    assert "Source:" in answered and "how much" in answered.lower()
    chat.say_text(f"£{parcel.declared_value / 3:.2f}")
    chat.say_text("yes")
    filed = chat.say_text("chat")
    found = REFERENCE.search(filed)
    assert found and parcel.tracking_number in filed, filed
