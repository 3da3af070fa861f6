"""Surveys through the real stack: a delivery starts the survey in the recipient's open chat
(Rasa's trigger_intent), a survey link starts it too, and the answers land in the store."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from backend.api.customer_input import SURVEY_LINK_TITLE
from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.surveys.models import (
    FollowUpTask,
    InvitationStatus,
    SurveyAnswer,
    SurveyInvitation,
    SurveyKind,
)
from scripts.bench import SURVEY_ANSWERS
from scripts.stack import Stack
from tests.browser import PHONE, require_browser, wait_for_bubbles
from tests.e2e.conftest import Chat

AUTH = {"Authorization": "Bearer dev-internal-token"}  # the default internal token
# The delivery survey's answers as the bench gives them (scripts/bench.py), said another way
# where there is one: stars, words for a number, a description for "yes"; same scores.
OTHER_FORMATS = {
    "csat": "★★★★",
    "on_time": "yes",
    "condition": "no damage",
    "courtesy": "five",
    "nps": "9",
    "comment": "nothing",
}


def spare_shipment(
    url: str, status: ShipmentStatus, examples: dict[str, Shipment], skip: int = 0
) -> Shipment:
    """A shipment no other end-to-end test uses (they use the seed's example numbers);
    `skip` passes over the first few, so that tests do not share one."""
    used = {s.tracking_number for s in examples.values()}
    with Session(get_engine(url)) as session:
        query = select(Shipment).where(Shipment.status == status).order_by(col(Shipment.id))
        for shipment in session.exec(query.limit(200)):
            if shipment.tracking_number not in used:
                if skip:
                    skip -= 1
                    continue
                session.expunge(shipment)
                return shipment
    pytest.fail(f"no spare {status} shipment in the store")


def wait_for_pending(chat: Chat, seconds: float = 30) -> list[dict[str, object]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = chat.client.get(f"/api/chat/{chat.conversation_id}/messages")
        messages = list(response.json()["messages"])
        if messages:
            return messages
        time.sleep(0.3)
    return []


def delivered_now(stack: Stack, parcel: Shipment) -> list[dict[str, object]]:
    """The carrier's system posts the delivery, twice (a replay); both results."""
    event = {
        "tracking_number": parcel.tracking_number,
        "code": "DL",
        "occurred_at": datetime.now(UTC).isoformat(),
        "location": parcel.destination_city,
    }
    with httpx.Client(base_url=stack.backend_url, timeout=60) as carrier:
        return [carrier.post("/api/tracking-events", json=event, headers=AUTH).json() for _ in "12"]


def test_a_chat_that_only_tracked_the_parcel_gets_no_survey(
    chat: Chat, stack: Stack, e2e_store: str, examples: dict[str, Shipment]
) -> None:
    parcel = spare_shipment(e2e_store, ShipmentStatus.in_transit, examples, skip=1)
    assert parcel.tracking_number in chat.say_text(f"where is my parcel {parcel.tracking_number}")
    first, replay = delivered_now(stack, parcel)
    assert first["invitation_created"] and first["survey_sent_via"] == "outbox", first
    assert not replay["invitation_created"] and replay["event_recorded"] is False
    assert wait_for_pending(chat, seconds=2) == []


def test_a_delivery_starts_the_survey_in_the_recipients_open_chat(
    chat: Chat, stack: Stack, e2e_store: str, examples: dict[str, Shipment]
) -> None:
    parcel = spare_shipment(e2e_store, ShipmentStatus.in_transit, examples)
    # The recipient proves who they are (last four digits of their phone) while chatting.
    assert "last four digits" in chat.say_text(f"who is {parcel.tracking_number} addressed to?")
    phone_end = "".join(ch for ch in parcel.consignee_phone if ch.isdigit())[-4:]
    assert parcel.consignee_name in chat.say_text(phone_end)
    first, replay = delivered_now(stack, parcel)
    assert first["invitation_created"] and first["survey_sent_via"] == "chat", first
    assert not replay["invitation_created"] and replay["event_recorded"] is False
    proactive = wait_for_pending(chat)
    said = "\n".join(str(m.get("text") or "") for m in proactive)
    assert parcel.tracking_number in said and "how satisfied" in said.lower()
    assert [b["payload"] for b in proactive[-1]["buttons"]][:5] == ["1", "2", "3", "4", "5"]
    # A nonsense answer asked again once, then the bench's survey in other answer formats.
    assert "1 to 5" in chat.say_text("purple")
    for question, _said, asks, _score in SURVEY_ANSWERS:
        assert asks in chat.say_text(OTHER_FORMATS[question]).lower()
    with Session(get_engine(e2e_store)) as session:
        invitation = session.exec(
            select(SurveyInvitation).where(SurveyInvitation.shipment_id == parcel.id)
        ).one()
        assert invitation.status is InvitationStatus.completed
        assert invitation.conversation_id == chat.conversation_id
        answers = {
            a.question: (a.score, a.skipped)
            for a in session.exec(
                select(SurveyAnswer).where(SurveyAnswer.invitation_id == invitation.id)
            )
        }
    # The same scores as the bench's answers; the comment skipped.
    assert answers == {q: (score, score is None) for q, _said, _asks, score in SURVEY_ANSWERS}


def test_a_survey_link_and_the_recovery_path(
    chat: Chat, e2e_store: str, examples: dict[str, Shipment]
) -> None:
    parcel = spare_shipment(e2e_store, ShipmentStatus.delivered, examples)
    now = datetime.now(UTC)
    with Session(get_engine(e2e_store)) as session:
        invitation = SurveyInvitation(
            token="link-test-" + "k" * 30,
            kind=SurveyKind.on_request,
            shipment_id=parcel.id,
            customer_id=parcel.customer_id,
            contact="+447700900321",
            created_at=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(invitation)
        session.commit()
        token, invitation_id = invitation.token, invitation.id
    # What the page sends when opened at /?survey=<token>.
    opening = chat.say_text(SURVEY_LINK_TITLE, survey_token=token)
    assert parcel.tracking_number in opening and "how satisfied" in opening.lower()
    chat.say_text("terrible")
    chat.say_text("no")
    chat.say_text("the box was crushed")
    chat.say_text("skip")
    chat.say_text("2")
    ending = chat.say("the driver threw it over the fence")
    said = "\n".join(str(m.get("text") or "") for m in ending)
    assert "I'm sorry" in said and "FU-" in said
    assert "opened complaint C-" in said  # service recovery: a complaint on the parcel
    assert any(m.get("buttons") for m in ending)  # a person is offered
    handed = chat.say_text("yes please")  # queued for an agent (the e2e desk never closes)
    assert "an agent will join this chat" in handed.lower()
    with Session(get_engine(e2e_store)) as session:
        task = session.exec(
            select(FollowUpTask).where(FollowUpTask.invitation_id == invitation_id)
        ).one()
        assert task.reasons == "CSAT 1; damaged; NPS 2"
        comment = session.exec(
            select(SurveyAnswer).where(
                SurveyAnswer.invitation_id == invitation_id, SurveyAnswer.question == "comment"
            )
        ).one()
        assert comment.text == "the driver threw it over the fence"
    # The same link again: answered once only.
    again = chat.say_text(SURVEY_LINK_TITLE, survey_token=token)
    assert "already answered" in again


def test_a_forged_link_is_declined(chat: Chat) -> None:
    answer = chat.say_text(SURVEY_LINK_TITLE, survey_token="Z" * 32)
    assert "couldn't find that survey" in answer


def test_stop_sending_me_surveys(chat: Chat) -> None:
    answer = chat.say_text("stop sending me surveys")
    assert "Stop surveys" in answer


@require_browser()
def test_a_survey_link_opens_the_chat_and_starts_the_survey(
    browser: Any, stack: Stack, e2e_store: str, examples: dict[str, Shipment]
) -> None:
    """The SMS link in a real browser: the page starts the survey and forgets the token."""
    parcel = spare_shipment(e2e_store, ShipmentStatus.delivered, examples, skip=2)
    now = datetime.now(UTC)
    with Session(get_engine(e2e_store)) as session:
        invitation = SurveyInvitation(
            token="browser-link-" + "b" * 27,
            kind=SurveyKind.on_request,
            shipment_id=parcel.id,
            contact="+447700900322",
            created_at=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(invitation)
        session.commit()
        token = invitation.token
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{stack.backend_url}/?survey={token}")
        said = "\n".join(wait_for_bubbles(page, "bot", 2))
        assert parcel.tracking_number in said and "how satisfied" in said.lower()
        assert "survey=" not in page.url
        page.get_by_role("button", name="4 ★★★★").click()
        assert "on time" in wait_for_bubbles(page, "bot", 3)[2].lower()
    finally:
        context.close()
