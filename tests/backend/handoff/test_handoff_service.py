"""The handoff queue: what the customer is told, priority order, taking, ending, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from backend.agents.models import Role
from backend.agents.service import create_agent, identity_of
from backend.config import Settings
from backend.crm.models import CustomerTier, Tier
from backend.handoff import service
from backend.handoff.hours import is_open, parse_hours
from backend.handoff.models import HandoffStatus, Reason
from backend.store.db import get_engine, upgrade_database
from tests.backend.conftest import ShipmentFactory

# A Wednesday at 11:00 in London (BST) and the Sunday after at the same time.
OPEN = datetime(2025, 6, 11, 10, 0, tzinfo=UTC)
CLOSED = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
SETTINGS = Settings(handoff_handling_minutes=6, handoff_agents_on_duty=2, log_level="WARNING")


def tiered(session: Session, make_shipment: ShipmentFactory, tier: Tier) -> int:
    customer_id = make_shipment().customer_id
    session.add(
        CustomerTier(
            customer_id=customer_id,
            tier=tier,
            score=1.0,
            rank=1,
            shipments=10,
            revenue=1.0,
            margin=1.0,
            avg_revenue=1.0,
            since=OPEN,
            computed_at=OPEN,
        )  # fmt: skip
    )
    session.flush()
    return customer_id


def test_opening_hours_in_london() -> None:
    spec = "Mon-Fri 08:00-20:00; Sat 09:00-14:00"
    assert parse_hours(spec) is not None and parse_hours("always") is None
    assert is_open(OPEN, spec, "Europe/London")
    assert not is_open(CLOSED, spec, "Europe/London")
    # 19:30 UTC on a Wednesday in June is 20:30 in London: closed.
    assert not is_open(datetime(2025, 6, 11, 19, 30, tzinfo=UTC), spec, "Europe/London")
    assert is_open(CLOSED, "always", "Europe/London")
    with pytest.raises(ValueError):
        parse_hours("Someday 08:00-20:00")


def test_within_hours_the_wait_is_said_honestly(session: Session) -> None:
    first = service.request_handoff(session, "conv-a1", Reason.asked, SETTINGS, now=OPEN)
    assert first.created and first.handoff.status is HandoffStatus.waiting
    assert "in about 6 minutes" in first.text
    second = service.request_handoff(session, "conv-a2", Reason.asked, SETTINGS, now=OPEN)
    third = service.request_handoff(session, "conv-a3", Reason.asked, SETTINGS, now=OPEN)
    assert "in about 6 minutes" in second.text and "in about 12 minutes" in third.text
    again = service.request_handoff(session, "conv-a1", Reason.asked, SETTINGS, now=OPEN)
    assert not again.created and first.handoff.reference in again.text


def test_outside_hours_a_call_back_ticket_is_opened(session: Session) -> None:
    done = service.request_handoff(session, "conv-night", Reason.asked, SETTINGS, now=CLOSED)
    assert done.handoff.status is HandoffStatus.callback
    assert done.handoff.reference in done.text and "call-back ticket" in done.text
    assert service.waiting_queue(session) == []


def test_queue_order_is_priority_then_age(session: Session, make_shipment: ShipmentFactory) -> None:
    c_customer = tiered(session, make_shipment, Tier.C)
    a_customer = tiered(session, make_shipment, Tier.A)
    service.request_handoff(
        session, "conv-c", Reason.asked, SETTINGS, customer_id=c_customer, now=OPEN
    )
    service.request_handoff(
        session, "conv-anon", Reason.not_understood, SETTINGS, now=OPEN + timedelta(minutes=1)
    )
    vip = service.request_handoff(
        session, "conv-a", Reason.asked, SETTINGS, customer_id=a_customer,
        now=OPEN + timedelta(minutes=2),
    )  # fmt: skip
    threat = service.request_handoff(
        session, "conv-t", Reason.threat, SETTINGS, now=OPEN + timedelta(minutes=3)
    )
    assert vip.handoff.priority == 1 and vip.handoff.tier == "A"
    assert "ahead of the queue" in threat.text and "999" in threat.text
    order = [h.conversation_id for h in service.waiting_queue(session)]
    assert order == ["conv-a", "conv-t", "conv-c", "conv-anon"]


def test_a_threat_moves_a_queued_conversation_to_the_front(session: Session) -> None:
    service.request_handoff(session, "conv-x", Reason.asked, SETTINGS, now=OPEN)
    moved = service.request_handoff(session, "conv-x", Reason.threat, SETTINGS, now=OPEN)
    assert moved.handoff.priority == 1 and moved.handoff.reason is Reason.threat
    service.request_handoff(session, "conv-y", Reason.vip_complaint, SETTINGS, now=OPEN)
    named = service.request_handoff(session, "conv-y", Reason.threat, SETTINGS, now=OPEN)
    assert named.handoff.reason is Reason.threat  # a threat is named as such to the agent


def test_take_once_end_only_by_the_holder(session: Session) -> None:
    priya = identity_of(create_agent(session, "priya", "a-long-password", Role.agent, "Priya"))
    sam = identity_of(create_agent(session, "sam", "a-long-password", Role.agent, "Sam"))
    handoff = service.request_handoff(
        session, "conv-take", Reason.asked, SETTINGS, now=OPEN
    ).handoff
    assert handoff.id is not None
    assert "Priya from our team has joined" in service.take(session, handoff.id, priya)
    with pytest.raises(service.HandoffError):
        service.take(session, handoff.id, sam)
    with pytest.raises(service.HandoffError):
        service.hand_back(session, handoff.id, sam)
    assert service.open_handoff(session, "conv-take") is not None
    ended, text = service.hand_back(session, handoff.id, priya)
    assert ended.status is HandoffStatus.returned and "handed you back" in text
    assert service.open_handoff(session, "conv-take") is None
    with pytest.raises(service.HandoffError):
        service.close(session, handoff.id, priya)


def test_a_manager_may_end_a_conversation_another_agent_holds(session: Session) -> None:
    priya = identity_of(create_agent(session, "priya", "a-long-password", Role.agent, "Priya"))
    boss = identity_of(create_agent(session, "boss", "a-long-password", Role.manager, "Dana"))
    handoff = service.request_handoff(
        session, "conv-shift", Reason.asked, SETTINGS, now=OPEN
    ).handoff
    assert handoff.id is not None
    service.take(session, handoff.id, priya)
    ended, text = service.close(session, handoff.id, boss)
    assert ended.status is HandoffStatus.closed and text.startswith("Dana has closed")
    with pytest.raises(service.HandoffError):  # ended once: the holder cannot end it again
        service.hand_back(session, handoff.id, priya)


def test_untaken_handoffs_become_call_back_tickets(session: Session) -> None:
    settings = Settings(handoff_pickup_minutes=15, log_level="WARNING")
    old = service.request_handoff(session, "conv-old", Reason.asked, settings, now=OPEN).handoff
    new = service.request_handoff(
        session, "conv-new", Reason.asked, settings, now=OPEN + timedelta(minutes=10)
    ).handoff
    expired = service.expire_waiting(session, settings, OPEN + timedelta(minutes=16))
    assert [(h.conversation_id, h.status) for h, _ in expired] == [
        ("conv-old", HandoffStatus.callback)
    ]
    assert old.reference in expired[0][1]
    assert new.status is HandoffStatus.waiting
    assert service.expire_waiting(session, settings, OPEN + timedelta(minutes=16)) == []


def test_two_workers_sweeping_at_once_expire_each_handoff_once(postgres_url: str) -> None:
    upgrade_database(postgres_url)
    settings = Settings(handoff_pickup_minutes=15, log_level="WARNING")
    engine = get_engine(postgres_url)
    with Session(engine) as setup:
        for conversation in ("conv-a", "conv-b"):
            service.request_handoff(setup, conversation, Reason.asked, settings, now=OPEN)
        setup.commit()
    later = OPEN + timedelta(minutes=16)
    with Session(engine) as first, Session(engine) as second:
        # Without SKIP LOCKED the second sweep would wait for the first: fail, not hang.
        second.execute(text("SET lock_timeout = '2s'"))
        taken = service.expire_waiting(first, settings, later)  # locked until committed
        skipped = service.expire_waiting(second, settings, later)
        first.commit()
        second.commit()
        assert sorted(h.conversation_id for h, _ in taken) == ["conv-a", "conv-b"]
        assert skipped == []
        assert service.expire_waiting(second, settings, later) == []
