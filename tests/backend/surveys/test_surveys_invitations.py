"""Invitations: one per delivery however often (or concurrently) asked; tokens; expiry;
partial answers; double submission; opt-out; the outbox; follow-ups for unhappy answers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, func, select

from backend.crm.tiers import recompute_tiers
from backend.store.db import get_engine
from backend.store.models import Shipment
from backend.surveys import answers
from backend.surveys.answers import Parsed, SurveyClosed
from backend.surveys.invitations import (
    closed_reason,
    find_by_token,
    invite_delivery,
    invite_on_request,
    normalise_contact,
    opt_out,
    queue_message,
)
from backend.surveys.models import (
    FollowUpTask,
    InvitationStatus,
    OutboxMessage,
    OutboxStatus,
    SurveyAnswer,
    SurveyInvitation,
)
from tests.backend.surveys.conftest import NOW

PUBLIC = "https://parcelline.example"


def count(session: Session, model: Any) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_one_invitation_per_delivery(session: Session, delivered_shipment: Shipment) -> None:
    first = invite_delivery(session, delivered_shipment, NOW)
    again = invite_delivery(session, delivered_shipment, NOW + timedelta(minutes=5))
    session.commit()
    assert first.created and not again.created
    assert again.invitation.id == first.invitation.id
    assert count(session, SurveyInvitation) == 1
    invitation = first.invitation
    assert len(invitation.token) >= 32
    assert invitation.expires_at == NOW + timedelta(days=7)
    assert invitation.contact == "+447700900123"


def test_racing_deliveries_make_one_invitation(
    store_url: str, session: Session, delivered_shipment: Shipment
) -> None:
    session.commit()
    shipment_id = delivered_shipment.id  # read here: the fixture's session is not thread-safe
    engine = get_engine(store_url)
    barrier = threading.Barrier(4, timeout=20)
    results: list[tuple[int | None, bool]] = []
    errors: list[BaseException] = []

    def racer() -> None:
        try:
            with Session(engine) as own:
                shipment = own.get(Shipment, shipment_id)
                assert shipment is not None
                own.commit()  # no transaction held while waiting for the others
                barrier.wait()
                invited = invite_delivery(own, shipment, NOW)
                own.commit()
                results.append((invited.invitation.id, invited.created))
        except BaseException as exc:  # noqa: BLE001 - reported below
            barrier.abort()  # the others stop waiting instead of hanging
            errors.append(exc)

    threads = [threading.Thread(target=racer, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len({id_ for id_, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with Session(engine) as check:
        assert count(check, SurveyInvitation) == 1


def test_tokens_are_unguessable_and_forged_ones_find_nothing(
    session: Session, make_shipment: Any
) -> None:
    tokens = {invite_delivery(session, make_shipment(), NOW).invitation.token for _ in range(20)}
    assert len(tokens) == 20
    assert find_by_token(session, "A" * 32) is None
    assert find_by_token(session, "x' OR '1'='1") is None
    assert find_by_token(session, "") is None
    assert find_by_token(session, None) is None
    assert closed_reason(None, NOW) == "unknown"


def test_partial_answers_are_kept_and_the_survey_closes_once(
    session: Session, delivered_shipment: Shipment
) -> None:
    invitation = invite_delivery(session, delivered_shipment, NOW).invitation
    answers.record_answer(session, invitation, "csat", Parsed("value", 4, "four"), NOW)
    answers.record_answer(session, invitation, "on_time", Parsed("skip"), NOW)
    session.commit()
    kept = answers.answers_of(session, invitation)
    assert kept["csat"].score == 4 and kept["csat"].text == "four"
    assert kept["on_time"].skipped and kept["on_time"].score is None
    assert invitation.status is InvitationStatus.started
    answers.complete(session, invitation, NOW)
    session.commit()
    with pytest.raises(SurveyClosed) as closed:
        answers.complete(session, invitation, NOW)
    assert closed.value.reason == "completed"
    with pytest.raises(SurveyClosed):
        answers.record_answer(session, invitation, "nps", Parsed("value", 9), NOW)
    assert count(session, SurveyAnswer) == 2


def test_an_expired_invitation_takes_no_answers(
    session: Session, delivered_shipment: Shipment
) -> None:
    invitation = invite_delivery(session, delivered_shipment, NOW).invitation
    later = NOW + timedelta(days=7, seconds=1)
    assert closed_reason(invitation, later) == "expired"
    with pytest.raises(SurveyClosed) as closed:
        answers.record_answer(session, invitation, "csat", Parsed("value", 5), later)
    assert closed.value.reason == "expired"


def test_outbox_message_once_with_link_and_stop_link(
    session: Session, delivered_shipment: Shipment
) -> None:
    invitation = invite_delivery(session, delivered_shipment, NOW).invitation
    message = queue_message(session, invitation, PUBLIC, shipment=delivered_shipment)
    assert message is not None and message.status is OutboxStatus.pending
    assert f"{PUBLIC}/?survey={invitation.token}" in message.body
    assert f"/api/surveys/{invitation.token}/opt-out" in message.body
    assert delivered_shipment.tracking_number in message.body
    assert queue_message(session, invitation, PUBLIC, shipment=delivered_shipment) is None
    assert count(session, OutboxMessage) == 1


def test_opt_out_is_honoured_from_then_on(session: Session, make_shipment: Any) -> None:
    first = make_shipment(consignee_phone="+44 7700 900555")
    invitation = invite_delivery(session, first, NOW).invitation
    queue_message(session, invitation, PUBLIC, shipment=first)
    assert opt_out(session, "07700 900555")
    assert opt_out(session, "+447700900555")  # repeating is harmless
    pending = session.exec(select(OutboxMessage)).one()
    assert pending.status is OutboxStatus.cancelled
    later = make_shipment(consignee_phone="+447700900555")
    invited = invite_delivery(session, later, NOW).invitation
    assert invited.status is InvitationStatus.opted_out
    assert queue_message(session, invited, PUBLIC, shipment=later) is None
    other = make_shipment(consignee_phone="+447700900777")
    assert invite_delivery(session, other, NOW).invitation.status is InvitationStatus.pending


def test_contacts_are_normalised() -> None:
    assert normalise_contact("07700 900123") == "+447700900123"
    assert normalise_contact("+44 (0)7700-900123".replace("(0)", "")) == "+447700900123"
    assert normalise_contact(" Ava.Shaw@Example.COM ") == "ava.shaw@example.com"


def test_on_request_reuses_the_open_delivery_invitation(
    session: Session, delivered_shipment: Shipment
) -> None:
    invitation = invite_delivery(session, delivered_shipment, NOW).invitation
    assert invite_on_request(session, delivered_shipment, "c1", NOW).id == invitation.id
    later = NOW + timedelta(days=30)
    fresh = invite_on_request(session, delivered_shipment, "c1", later)
    assert fresh.id != invitation.id and closed_reason(fresh, later) is None
    general = invite_on_request(session, None, "c2", NOW)
    assert general.shipment_id is None and general.kind.value == "on_request"


@pytest.mark.parametrize(
    ("question", "parsed", "reason"),
    [
        ("csat", Parsed("value", 2), "CSAT 2"),
        ("condition", Parsed("value", 0), "damaged"),
        ("nps", Parsed("value", 6), "NPS 6"),
    ],
)
def test_unhappy_answers_open_a_follow_up(
    session: Session, delivered_shipment: Shipment, question: str, parsed: Parsed, reason: str
) -> None:
    invitation = invite_delivery(session, delivered_shipment, NOW).invitation
    answers.record_answer(session, invitation, question, parsed, NOW)
    task = session.exec(select(FollowUpTask)).one()
    assert task.reasons == reason and task.invitation_id == invitation.id


@pytest.mark.parametrize(
    ("question", "parsed"),
    [("csat", Parsed("value", 3)), ("nps", Parsed("value", 7)), ("condition", Parsed("value", 1))],
)
def test_happy_enough_answers_open_none(
    session: Session, delivered_shipment: Shipment, question: str, parsed: Parsed
) -> None:
    invitation = invite_delivery(session, delivered_shipment, NOW).invitation
    answers.record_answer(session, invitation, question, parsed, NOW)
    assert count(session, FollowUpTask) == 0


def test_an_a_tier_customer_gets_a_call_back_within_four_hours(
    session: Session, make_shipment: Any
) -> None:
    # Five customers; the one with by far the most revenue is the top 20%: A-tier, as the
    # CRM computes it.
    shipments = [make_shipment(revenue=5.0) for _ in range(4)]
    vip = make_shipment(revenue=900.0, status="delivered", delivered_at=NOW)
    session.commit()
    recompute_tiers(session.get_bind(), NOW)
    low = invite_delivery(session, shipments[0], NOW).invitation
    high = invite_delivery(session, vip, NOW).invitation
    answers.record_answer(session, low, "csat", Parsed("value", 1), NOW)
    answers.record_answer(session, high, "csat", Parsed("value", 1), NOW)
    answers.record_answer(session, high, "nps", Parsed("value", 2), NOW)
    tasks = {t.invitation_id: t for t in session.exec(select(FollowUpTask))}
    assert not tasks[low.id].priority_callback and tasks[low.id].due_at is None
    assert tasks[high.id].priority_callback
    assert tasks[high.id].due_at == NOW + timedelta(hours=4)
    assert tasks[high.id].reasons == "CSAT 1; NPS 2"
