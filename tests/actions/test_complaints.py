"""Complaint form, filing and status actions against a seeded SQLite store."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session, select

from actions.complaints import (
    ActionComplaintStatus,
    ActionStopComplaint,
    ActionSubmitComplaint,
    ValidateComplaintForm,
    ValidateComplaintStatusForm,
    detect_category,
    parse_amount,
)
from backend.complaints import service
from backend.complaints.models import Category, ComplaintTicket, TicketStatus
from backend.handoff.models import Handoff, Reason
from backend.store.db import get_engine, session_scope
from backend.store.models import Customer, Shipment, ShipmentStatus
from backend.store.seed import seed_database
from tests.actions.conftest import ANCHOR, make_tracker, slot_events, texts

FORM = "complaint_form"


def open_or_latest_handoff(session: Session, conversation_id: str) -> Handoff:
    found = session.exec(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id)
        .order_by(Handoff.id.desc())  # type: ignore[union-attr]
    ).first()
    assert found is not None, f"no handoff for {conversation_id}"
    return found


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store of this module's own: the tickets filed here stay out of other tests' way."""
    url = f"sqlite:///{tmp_path_factory.mktemp('complaints') / 'actions.db'}"
    seed_database(url, customers=40, shipments=1200, seed=7, anchor=ANCHOR, echo=lambda _: None)
    return url


async def run_form(
    domain: dict[str, Any],
    text: str,
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    new_slots: dict[str, Any] | None = None,
    active: bool = True,
    sender: str = "complainer",
    entities: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    tracker = make_tracker(
        text=text,
        intent=intent,
        slots=slots,
        new_slots=new_slots,
        active_loop=FORM if active else None,
        sender=sender,
        entities=entities,
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintForm().run(dispatcher, tracker, domain)
    return slot_events(events), texts(dispatcher)


async def submit(
    domain: dict[str, Any], slots: dict[str, Any], sender: str = "complainer"
) -> tuple[dict[str, Any], list[str]]:
    tracker = make_tracker(text="", slots=slots, sender=sender)
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitComplaint().run(dispatcher, tracker, domain)
    return slot_events(events), texts(dispatcher)


async def status(
    domain: dict[str, Any], text: str, slots: dict[str, Any], sender: str, **kw: Any
) -> tuple[dict[str, Any], list[str]]:
    tracker = make_tracker(text=text, slots=slots, sender=sender, **kw)
    dispatcher = CollectingDispatcher()
    events = await ValidateComplaintStatusForm().run(dispatcher, tracker, domain)
    return slot_events(events), texts(dispatcher)


def shipments(store_url: str, status: ShipmentStatus, count: int) -> list[Shipment]:
    with Session(get_engine(store_url)) as session:
        found = list(
            session.exec(
                select(Shipment)
                .where(Shipment.status == status, Shipment.declared_value > 20)
                .order_by(Shipment.id.desc())  # type: ignore[union-attr]
                .limit(count)
            )
        )
        for shipment in found:
            session.expunge(shipment)
        return found


_SLICES = itertools.count()


@pytest.fixture
def parcels(store_url: str) -> list[Shipment]:
    """Delivered parcels no other test files complaints about (a slice of its own per test)."""
    everyone = shipments(store_url, ShipmentStatus.delivered, 400)
    offset = next(_SLICES) * 10
    assert offset < len(everyone), "more tests than parcel slices: take more parcels"
    return everyone[offset : offset + 10]


def claim_slots(parcel: Shipment, **extra: Any) -> dict[str, Any]:
    return {
        "complaint_category": "damaged",
        "tracking_number": parcel.tracking_number,
        "complaint_description": "The box was crushed and the vase inside is broken.",
        "claimed_amount": round(parcel.declared_value / 2, 2),
        "has_photos": True,
        "callback_channel": "chat",
        "contact_details": "chat",
    } | extra


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("my parcel arrived crushed", Category.damaged),
        ("the driver threw it over the fence and now it's broken", Category.damaged),
        ("it says delivered but I never received it", Category.lost),
        ("you delivered it to the wrong address", Category.misdelivery),
        ("I was overcharged for express", Category.billing),
        ("the courier was rude to my dad", Category.courier_conduct),
        ("it's a week late, not acceptable", Category.late_delivery),
        ("the lamp arrived in bits", Category.damaged),
        ("it was forced through the letterbox and the case is snapped in two", Category.damaged),
        ("I never received EE047462941GB", Category.lost),
        ("the buyer says the box arrived empty", Category.lost),
        ("it was dumped in the hallway and somebody has taken it", Category.lost),
        ("it was delivered to number 12 instead of 21", Category.misdelivery),
        ("it shows delivered with a picture of somebody else's door", Category.misdelivery),
        ("signed for by a name nobody here has", Category.misdelivery),
        ("the delivery guy was smoking on my doorstep", Category.courier_conduct),
        ("it came on tuesday, I needed it in time for the wedding", Category.late_delivery),
        ("it has taken ten days and still nothing", Category.late_delivery),
        (
            "the parcel went to the house next door and they won't give it back",
            Category.misdelivery,
        ),
        ("can you leave it next door or in a safe place", None),
        ("I want to make a complaint", None),
    ],
)
def test_category_from_what_was_said(text: str, category: Category | None) -> None:
    assert detect_category(text) == category


@pytest.mark.parametrize(
    ("text", "amount"),
    [("£1,200.50", 1200.5), ("about 60 pounds", 60.0), ("-20", -20.0), ("2k", 2000.0),
     ("3 million", 3e6), ("none", None), ("LP482913073GB", None)],
)  # fmt: skip
def test_amounts(text: str, amount: float | None) -> None:
    assert parse_amount(text) == amount


async def test_first_message_sets_category_and_checks_the_parcel(
    domain: dict[str, Any], parcels: list[Shipment]
) -> None:
    parcel = parcels[0]
    slots, said = await run_form(
        domain,
        f"my parcel {parcel.tracking_number} arrived crushed",
        intent="file_complaint",
        new_slots={"tracking_number": parcel.tracking_number},
        active=False,
    )
    assert slots["complaint_category"] == "damaged"
    assert slots["tracking_number"] == parcel.tracking_number
    assert slots["requested_slot"] == "complaint_description"  # asks only what is missing
    assert not said


async def test_a_long_first_message_is_the_description(domain: dict[str, Any]) -> None:
    text = "I was charged twice for the same delivery last Tuesday and want the money back"
    slots, _ = await run_form(domain, text, intent="file_complaint", active=False)
    assert slots["complaint_category"] == "billing"
    assert slots["complaint_description"] == text
    assert slots["requested_slot"] == "callback_channel"  # billing needs no parcel


async def test_a_story_read_as_off_topic_is_the_description_but_a_question_is_not(
    domain: dict[str, Any],
) -> None:
    asked = {"complaint_category": "damaged", "requested_slot": "complaint_description"}
    story = "the handle of the mug is also snapped off"
    slots, _ = await run_form(domain, story, intent="out_of_scope", slots=asked)
    assert slots["complaint_description"] == story
    for question in ("what's the weather in Leeds", "the weather in Leeds?"):
        slots, _ = await run_form(domain, question, intent="out_of_scope", slots=asked)
        assert not slots.get("complaint_description"), question


async def test_vague_start_asks_for_the_category_then_a_button_answers(
    domain: dict[str, Any],
) -> None:
    slots, _ = await run_form(domain, "I want to complain", "file_complaint", active=False)
    assert slots["requested_slot"] == "complaint_category"
    button = [{"entity": "complaint_category", "value": "lost"}]
    slots, _ = await run_form(
        domain,
        '/inform{"complaint_category": "lost"}',
        slots={"requested_slot": "complaint_category"},
        entities=button,
    )
    assert slots["complaint_category"] == "lost" and slots["requested_slot"] == "tracking_number"
    slots, said = await run_form(domain, "hmm", slots={"requested_slot": "complaint_category"})
    assert slots["complaint_category"] is None and said


async def test_happy_path_files_a_ticket_with_sla(
    domain: dict[str, Any], parcels: list[Shipment], store_url: str
) -> None:
    parcel = parcels[1]
    state: dict[str, Any] = {
        "complaint_category": "damaged",
        "tracking_number": parcel.tracking_number,
        "verified_numbers": [parcel.tracking_number],
        "requested_slot": "complaint_description",
    }
    for answer, intent in [
        ("The box was crushed and the vase inside is broken.", "inform"),
        (f"£{parcel.declared_value / 2:.2f}", "inform"),
        ("no", "deny"),  # answers the photos question; does not cancel the form
        ("phone", "inform"),
    ]:
        slots, said = await run_form(domain, answer, intent, slots=state)
        state |= slots
    assert state["has_photos"] is False
    assert state["callback_channel"] == "phone"
    # The proven recipient's phone, said only by its last four digits.
    assert state["contact_details"] == parcel.consignee_phone
    assert any(parcel.consignee_phone[-4:] in line for line in said)
    assert not any(parcel.consignee_phone[:-4] in line for line in said)
    assert state["requested_slot"] is None
    events, said = await submit(domain, state)
    reference = events["ticket_id"]
    assert reference and reference.startswith("C-")
    assert reference in said[0] and "within" in said[0]
    assert events["offer_human"] is False and events["complaint_category"] is None
    with session_scope(store_url) as session:
        ticket = service.find_ticket(session, reference)
        assert ticket is not None and ticket.shipment_id == parcel.id
        assert ticket.conversation_id == "complainer"


@pytest.mark.parametrize("channel", ["phone", "email"])
async def test_contact_on_file_is_not_shown_without_proof(
    domain: dict[str, Any], parcels: list[Shipment], store_url: str, channel: str
) -> None:
    parcel = parcels[1]
    state = claim_slots(parcel, callback_channel=None, contact_details=None)
    state["requested_slot"] = "callback_channel"
    slots, said = await run_form(domain, channel, "inform", slots=state)
    assert slots["callback_channel"] == channel
    assert slots.get("contact_details") is None
    assert slots["requested_slot"] == "contact_details"
    with session_scope(store_url) as session:
        customer = session.get(Customer, parcel.customer_id)
        assert customer is not None
        secrets = {customer.email.split("@")[1], customer.phone[-4:], parcel.consignee_phone[-4:]}
    assert not any(secret in line for line in said for secret in secrets)


async def test_answers_can_be_corrected(domain: dict[str, Any], parcels: list[Shipment]) -> None:
    parcel = parcels[2]
    state = claim_slots(parcel, has_photos=None, requested_slot="has_photos")
    slots, said = await run_form(domain, "actually it was £5", slots=state)
    assert slots["claimed_amount"] == 5.0
    assert "has_photos" not in slots  # the question is asked again
    slots, _ = await run_form(
        domain, "actually it was lost, not damaged", slots=state | {"has_photos": True}
    )
    assert slots["complaint_category"] == "lost"
    slots, _ = await run_form(
        domain,
        "please use my email ruby@example.com instead",
        slots=state | {"has_photos": True, "callback_channel": "phone"},
    )
    assert slots["contact_details"] == "ruby@example.com"
    assert slots["callback_channel"] == "email"


@pytest.mark.parametrize("answer", ["-5", "0", "£1000000000", "9999999"])
async def test_bad_amounts_are_asked_again(
    domain: dict[str, Any], parcels: list[Shipment], answer: str
) -> None:
    state = claim_slots(parcels[3], claimed_amount=None, requested_slot="claimed_amount")
    slots, said = await run_form(domain, answer, slots=state)
    assert slots["claimed_amount"] is None
    assert slots["requested_slot"] == "claimed_amount" and said


async def test_amount_above_declared_value_is_refused(
    domain: dict[str, Any], parcels: list[Shipment]
) -> None:
    parcel = parcels[3]
    state = claim_slots(parcel, claimed_amount=None, requested_slot="claimed_amount")
    slots, said = await run_form(domain, f"£{parcel.declared_value + 1:.2f}", slots=state)
    assert slots["claimed_amount"] is None and "declared" in said[0]


@pytest.mark.parametrize(
    ("slot", "answer"),
    [
        ("complaint_description", "x " * 5_000),
        ("complaint_description", "bad"),
        ("callback_channel", "carrier pigeon"),
        ("contact_details", "my house"),
        ("has_photos", "perhaps"),
    ],
)
async def test_bad_answers_are_asked_again(
    domain: dict[str, Any], parcels: list[Shipment], slot: str, answer: str
) -> None:
    state = claim_slots(parcels[4], callback_channel="phone") | {slot: None, "requested_slot": slot}
    slots, said = await run_form(domain, answer, slots=state)
    assert slots[slot] is None and slots["requested_slot"] == slot and said


async def test_unknown_parcel_ends_with_an_offer_of_a_person(domain: dict[str, Any]) -> None:
    from backend.store import tracking_numbers

    unknown = tracking_numbers.make("LP", 99_999_997)
    slots, said = await run_form(
        domain,
        unknown,
        slots={"complaint_category": "lost", "requested_slot": "tracking_number"},
        new_slots={"tracking_number": unknown},
    )
    assert slots["blocked_reason"] == "unknown" and slots["requested_slot"] is None
    events, _ = await submit(domain, {"blocked_reason": "unknown"})
    assert events["offer_human"] is True


async def test_second_complaint_is_merged(
    domain: dict[str, Any], parcels: list[Shipment], store_url: str
) -> None:
    parcel = parcels[5]
    first, _ = await submit(domain, claim_slots(parcel))
    second, said = await submit(
        domain,
        claim_slots(parcel, complaint_description="Also the lid was torn off the box."),
        sender="complainer-again",
    )
    assert second["ticket_id"] == first["ticket_id"]
    assert "already" in said[0] and first["ticket_id"] in said[0]
    with session_scope(store_url) as session:
        tickets = session.exec(
            select(ComplaintTicket).where(ComplaintTicket.shipment_id == parcel.id)
        ).all()
        assert len(tickets) == 1


async def test_vip_customer_goes_to_the_vip_desk(domain: dict[str, Any], store_url: str) -> None:
    from backend.crm.models import CustomerTier, Tier
    from backend.crm.tiers import recompute_tiers

    # Tiers are the CRM's: computed from the store, then read by the complaint SLA.
    recompute_tiers(get_engine(store_url))
    with Session(get_engine(store_url)) as session:
        vip = session.exec(
            select(CustomerTier.customer_id).where(CustomerTier.tier == Tier.A)
        ).first()
        parcel = session.exec(select(Shipment).where(Shipment.customer_id == vip)).first()
        assert parcel is not None
    slots = claim_slots(parcel, complaint_category="late_delivery", claimed_amount=None)
    events, said = await submit(domain, slots, sender="vip-conversation")
    assert "VIP desk" in said[0] and "4 hours" in said[0]
    # An A-tier complaint also goes to a person at once: queued (or a call-back out of hours).
    assert len(said) == 2 and ("agent will join" in said[1] or "call-back ticket" in said[1])
    assert events["offer_human"] is False
    with Session(get_engine(store_url)) as session:
        handoff = open_or_latest_handoff(session, "vip-conversation")
        assert handoff.reason is Reason.vip_complaint and handoff.priority == 1
        assert handoff.customer_id == vip and handoff.tier == "A"


async def test_abuse_is_answered_calmly_and_a_person_offered(
    domain: dict[str, Any], parcels: list[Shipment], store_url: str
) -> None:
    from backend.crm.models import Tier
    from backend.crm.tiers import current_tier

    state = {"complaint_category": "late_delivery", "requested_slot": "tracking_number"}
    slots, said = await run_form(domain, "this is fucking useless", slots=state, new_slots={})
    assert slots["complaint_upset"] is True and "sorry" in said[-1]
    # Not an A-tier customer's parcel: theirs goes to a person at once, without an offer.
    with Session(get_engine(store_url)) as session:
        parcel = next(p for p in parcels if current_tier(session, p.customer_id) is not Tier.A)
    events, _ = await submit(
        domain,
        claim_slots(parcel, complaint_category="late_delivery", complaint_upset=True),
        sender="upset-customer",
    )
    assert events["offer_human"] is True


async def test_a_threat_goes_to_a_person_at_once(domain: dict[str, Any], store_url: str) -> None:
    slots, said = await run_form(
        domain,
        "if this happens again I will hurt him",
        slots={"complaint_category": "courier_conduct", "requested_slot": "complaint_description"},
    )
    assert slots["blocked_reason"] == "safety" and slots["requested_slot"] is None
    assert "0330 123 4567" in said[0]
    events, said = await submit(domain, {"blocked_reason": "safety"} | slots, sender="threatened")
    assert events["offer_human"] is False and events["blocked_reason"] is None
    reference = events["ticket_id"]
    assert reference in said[0]
    with session_scope(store_url) as session:
        ticket = service.find_ticket(session, reference)
        assert ticket is not None and ticket.priority == 1 and ticket.queue == "vip-desk"
        assert "hurt him" in ticket.description
        handoff = open_or_latest_handoff(session, "threatened")
        assert handoff.reason is Reason.threat and handoff.priority == 1
    assert "999" in said[-1]


async def test_stop_forgets_the_complaint(domain: dict[str, Any]) -> None:
    parcel = Shipment(tracking_number="LP482913073GB", declared_value=10.0)
    tracker = make_tracker(text="never mind", intent="deny", slots=claim_slots(parcel))
    dispatcher = CollectingDispatcher()
    events = slot_events(await ActionStopComplaint().run(dispatcher, tracker, domain))
    assert events["complaint_category"] is None and events["claimed_amount"] is None
    assert texts(dispatcher)


# --- status look-ups --------------------------------------------------------------------


async def filed_ticket(domain: dict[str, Any], parcel: Shipment, sender: str) -> str:
    events, _ = await submit(domain, claim_slots(parcel), sender=sender)
    return str(events["ticket_id"])


async def test_status_in_the_same_conversation_needs_no_proof(
    domain: dict[str, Any], parcels: list[Shipment]
) -> None:
    reference = await filed_ticket(domain, parcels[7], "filer")
    slots, _ = await status(
        domain, "what's happening with my complaint", {}, "filer", intent="complaint_status"
    )
    assert slots["ticket_id"] == reference and slots["complaint_proof"] == "verified"
    assert slots["requested_slot"] is None
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots, sender="filer")
    await ActionComplaintStatus().run(dispatcher, tracker, domain)
    assert reference in texts(dispatcher)[0]


async def test_status_elsewhere_needs_proof(
    domain: dict[str, Any], parcels: list[Shipment], store_url: str
) -> None:
    parcel, other = parcels[8], parcels[9]
    reference = await filed_ticket(domain, parcel, "filer-2")
    slots, _ = await status(
        domain,
        f"status of {reference}",
        {},
        "stranger",
        intent="complaint_status",
        new_slots={"ticket_id": reference},
    )
    assert slots["requested_slot"] == "complaint_proof"
    asked = {"ticket_id": reference, "requested_slot": "complaint_proof"}
    slots, said = await status(domain, other.tracking_number, asked, "stranger")
    assert slots["complaint_proof"] is None and "2 more times" in said[0]
    locked, said = await status(domain, "1234", asked | {"complaint_attempts": 2}, "stranger")
    assert locked["blocked_reason"] == "locked"
    slots, _ = await status(domain, parcel.tracking_number, asked, "stranger")
    assert slots["complaint_proof"] == "verified"
    # An agent's update is what the shipper hears next.
    with session_scope(store_url) as session:
        ticket = service.find_ticket(session, reference)
        assert ticket is not None
        service.change_status(session, ticket, TicketStatus.in_progress, "Priya Agent")
        service.add_note(session, ticket, "Priya Agent", "Claim approved, payment on Friday.")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"ticket_id": reference, "complaint_proof": "verified"})
    events = slot_events(await ActionComplaintStatus().run(dispatcher, tracker, domain))
    [said_text] = texts(dispatcher)
    assert "Priya Agent" in said_text and "payment on Friday" in said_text
    assert events["complaint_proof"] is None


async def test_status_by_phone_digits(
    domain: dict[str, Any], parcels: list[Shipment], store_url: str
) -> None:
    with Session(get_engine(store_url)) as session:
        customer = session.get(Customer, parcels[0].customer_id)
        assert customer is not None
        digits = customer.phone[-4:]
    reference = await filed_ticket(domain, parcels[0], "filer-3")
    asked = {"ticket_id": reference, "requested_slot": "complaint_proof"}
    slots, _ = await status(domain, f"it ends {digits}", asked, "phone-caller")
    assert slots["complaint_proof"] == "verified"


async def test_unknown_reference_twice_offers_a_person(domain: dict[str, Any]) -> None:
    asked = {"requested_slot": "ticket_id"}
    slots, said = await status(domain, "C-26-99999", asked, "someone")
    assert slots["ticket_id"] is None and "C-26-99999" in said[0]
    slots, _ = await status(domain, "no idea", asked | {"complaint_attempts": 1}, "someone")
    assert slots["blocked_reason"] == "unknown"
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots={"blocked_reason": "unknown"})
    events = slot_events(await ActionComplaintStatus().run(dispatcher, tracker, domain))
    assert events["offer_human"] is True
