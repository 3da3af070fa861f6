"""Store queries used by the action server and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from backend.store.db import get_engine
from backend.store.models import (
    AddressChangeRequest,
    AddressChangeStatus,
    Channel,
    EventCode,
    Shipment,
    ShipmentStatus,
    TrackingEvent,
)
from backend.store.queries import (
    AddressChangeNotAllowed,
    address_change_refusal,
    consignee_phone_matches,
    find_shipment,
    request_address_change,
    shipment_events,
)
from backend.tracking import status_from_events

S = ShipmentStatus


def test_find_shipment_however_it_is_typed(session: Session, make_shipment) -> None:
    shipment = make_shipment(tracking_number="LP123456785GB")
    for typed in ("LP123456785GB", "lp 1234 5678 5 gb", "LP-123-456-785-GB", " lp123456785gb. "):
        assert find_shipment(session, typed) == shipment
    assert find_shipment(session, "LP000000425GB") is None


def test_shipment_events_oldest_first_and_only_its_own(session: Session, make_shipment) -> None:
    mine, other = make_shipment(), make_shipment()
    start = mine.shipped_at
    # Added out of order: the query, not the insertion order, sorts them.
    for hours, code in ((5, EventCode.AR), (1, EventCode.PU), (9, EventCode.DP)):
        session.add(
            TrackingEvent(
                shipment_id=mine.id,
                occurred_at=start + timedelta(hours=hours),
                location="Leeds depot",
                status_code=code,
                description="",
            )
        )
    session.flush()
    events = shipment_events(session, mine.id)
    assert [e.status_code for e in events] == [
        EventCode.LC,
        EventCode.PU,
        EventCode.AR,
        EventCode.DP,
    ]
    assert {e.shipment_id for e in events} == {mine.id}
    assert [e.status_code for e in shipment_events(session, other.id)] == [EventCode.LC]
    assert shipment_events(session, 999_999) == []


@pytest.mark.parametrize(
    "status", [S.label_created, S.in_transit, S.out_for_delivery, S.delivery_failed]
)
def test_address_change_is_recorded_while_the_parcel_is_coming(
    session: Session, make_shipment, store_url: str, status: ShipmentStatus
) -> None:
    shipment = make_shipment(status=status)
    assert address_change_refusal(shipment) is None
    request = request_address_change(
        session, shipment, "  Flat 2,\n 14 Elm Grove,  Leeds LS6 2QT ", "conv-42"
    )
    assert request.id is not None
    assert request.new_address == "Flat 2, 14 Elm Grove, Leeds LS6 2QT"
    assert (request.status, request.channel) == (AddressChangeStatus.pending, Channel.chat)
    assert (request.shipment_id, request.conversation_id) == (shipment.id, "conv-42")
    session.commit()
    with Session(get_engine(store_url)) as other:
        saved = other.exec(select(AddressChangeRequest)).one()
    assert saved.new_address == request.new_address


def test_address_change_can_come_by_phone(session: Session, make_shipment) -> None:
    request = request_address_change(
        session, make_shipment(), "3 Mill Lane, Leeds", "call-7", channel=Channel.phone
    )
    assert request.channel is Channel.phone


@pytest.mark.parametrize(
    ("status", "because"),
    [
        (S.delivered, "already been delivered"),
        (S.lost, "declared it lost"),
        (S.returning, "on its way back to the sender"),
        (S.returned, "returned to the sender"),
    ],
)
def test_address_change_refused_with_a_reason(
    session: Session, make_shipment, status: ShipmentStatus, because: str
) -> None:
    shipment = make_shipment(status=status)
    with pytest.raises(AddressChangeNotAllowed) as refused:
        request_address_change(session, shipment, "3 Mill Lane, Leeds", "conv-1")
    assert because in refused.value.reason
    assert address_change_refusal(shipment) == refused.value.reason
    assert str(refused.value) == refused.value.reason
    assert session.exec(select(AddressChangeRequest)).all() == []


def test_empty_address_is_an_error(session: Session, make_shipment) -> None:
    with pytest.raises(ValueError):
        request_address_change(session, make_shipment(), " \n ", "conv-1")


def test_consignee_phone_matches(make_shipment) -> None:
    shipment = make_shipment(consignee_phone="+447700900123")
    assert consignee_phone_matches(shipment, "0123")
    assert consignee_phone_matches(shipment, " 0 1 2 3 ")
    assert consignee_phone_matches(shipment, "900123")
    assert consignee_phone_matches(shipment, "07700 900123")  # the whole number, UK style
    assert not consignee_phone_matches(shipment, "0124")
    assert not consignee_phone_matches(shipment, "123")  # too few digits to prove anything
    assert not consignee_phone_matches(shipment, "")


def test_queries_on_seeded_data(seeded_url: str) -> None:
    with Session(get_engine(seeded_url)) as session:
        shipment = session.exec(select(Shipment).where(Shipment.status == S.delivered)).first()
        assert shipment is not None and shipment.id is not None
        found = find_shipment(session, shipment.tracking_number.lower())
        assert found is not None and found.id == shipment.id
        events = shipment_events(session, shipment.id)
        assert status_from_events(e.status_code for e in events) is S.delivered
        assert events[-1].status_code is EventCode.DL
        assert consignee_phone_matches(shipment, shipment.consignee_phone[-4:])
