"""Survey actions: starting (link, delivery, on request), answers as given, retries, the end
(thanks, or apology with a follow-up and the offer of a person), opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session, select

from actions.surveys import (
    ActionStartSurvey,
    ActionStopSurvey,
    ActionSubmitSurvey,
    ActionSurveyOptOut,
    ValidateSurveyForm,
)
from backend.complaints.models import Category, ComplaintTicket
from backend.store.db import get_engine
from backend.store.models import Shipment
from backend.surveys.models import (
    FollowUpTask,
    InvitationStatus,
    SurveyAnswer,
    SurveyInvitation,
    SurveyKind,
    SurveyOptOut,
)
from tests.actions.conftest import make_tracker, slot_events, texts


@pytest.fixture
def surveyed(store_url: str, delivered: Shipment) -> Shipment:
    """A delivered parcel other than the shared `delivered` one: unhappy answers open a
    complaint on it, which other tests' parcels must not carry."""
    with Session(get_engine(store_url)) as session:
        query = select(Shipment).where(
            Shipment.status == delivered.status, Shipment.id != delivered.id
        )
        found = session.exec(query).first()
        assert found is not None
        session.expunge(found)
        return found


@pytest.fixture
def invitation(store_url: str, surveyed: Shipment) -> SurveyInvitation:
    """A fresh, open delivery-survey invitation (its own, so tests do not share answers)."""
    delivered = surveyed
    now = datetime.now(UTC)
    with Session(get_engine(store_url)) as session:
        row = SurveyInvitation(
            token=f"tok{now.timestamp():.6f}".replace(".", "x").ljust(32, "Q"),
            kind=SurveyKind.delivery,
            shipment_id=delivered.id,
            customer_id=delivered.customer_id,
            contact="+447700900999",
            created_at=now,
            expires_at=now + timedelta(days=7),
        )
        session.add(row)
        session.commit()
        session.refresh(row)
        session.expunge(row)
        return row


def load(store_url: str, token: str) -> SurveyInvitation:
    with Session(get_engine(store_url)) as session:
        row = session.exec(select(SurveyInvitation).where(SurveyInvitation.token == token)).one()
        session.expunge(row)
        return row


def stored_answers(store_url: str, invitation_id: int | None) -> dict[str, SurveyAnswer]:
    with Session(get_engine(store_url)) as session:
        rows = session.exec(
            select(SurveyAnswer).where(SurveyAnswer.invitation_id == invitation_id)
        ).all()
        return {row.question: row for row in rows}


async def start(token: str | None, domain: dict[str, Any], text: str = "") -> Any:
    entities = [{"entity": "survey_token", "value": token}] if token else []
    tracker = make_tracker(text=text, intent="give_feedback", entities=entities)
    dispatcher = CollectingDispatcher()
    events = await ActionStartSurvey().run(dispatcher, tracker, domain)
    return dispatcher, slot_events(events)


async def answer(
    slot: str, text: str, token: str, domain: dict[str, Any], **slots: Any
) -> tuple[CollectingDispatcher, dict[str, Any]]:
    tracker = make_tracker(
        text=text,
        intent="nlu_fallback",
        slots={"survey_token": token, "survey_kind": "delivery", "requested_slot": slot, **slots},
        new_slots={slot: text},
        active_loop="survey_form",
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateSurveyForm().run(dispatcher, tracker, domain)
    return dispatcher, slot_events(events)


async def submit(token: str, domain: dict[str, Any]) -> tuple[CollectingDispatcher, dict[str, Any]]:
    # A sender of its own: the complaint service recovery opens must not follow other tests.
    tracker = make_tracker(
        slots={"survey_token": token, "survey_kind": "delivery"}, sender="survey-submitter"
    )
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitSurvey().run(dispatcher, tracker, domain)
    return dispatcher, slot_events(events)


async def test_a_link_starts_its_survey(
    invitation: SurveyInvitation, surveyed: Shipment, domain: dict[str, Any], store_url: str
) -> None:
    dispatcher, slots = await start(invitation.token, domain)
    assert slots["survey_ready"] is True
    assert slots["survey_token"] == invitation.token and slots["survey_kind"] == "delivery"
    assert surveyed.tracking_number in texts(dispatcher)[0]
    stored = load(store_url, invitation.token)
    assert stored.status is InvitationStatus.started
    assert stored.conversation_id == "conversation-under-test"


async def test_a_forged_link_is_declined(domain: dict[str, Any]) -> None:
    dispatcher, slots = await start("F" * 32, domain)
    assert slots == {"survey_ready": False}
    assert "couldn't find that survey" in texts(dispatcher)[0]


async def test_an_expired_link_says_so_politely(
    invitation: SurveyInvitation, domain: dict[str, Any], store_url: str
) -> None:
    with Session(get_engine(store_url)) as session:
        row = session.get(SurveyInvitation, invitation.id)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        session.add(row)
        session.commit()
    dispatcher, slots = await start(invitation.token, domain)
    assert slots == {"survey_ready": False}
    assert "this survey closed on" in texts(dispatcher)[0]


async def test_feedback_on_request_about_a_named_parcel_or_in_general(
    delivered: Shipment, in_transit: Shipment, domain: dict[str, Any]
) -> None:
    dispatcher, slots = await start(None, domain, text=f"feedback on {delivered.tracking_number}")
    # The seed answered some delivery surveys already; those are not answered twice.
    if slots["survey_ready"]:
        assert slots["survey_kind"] == "delivery"
    else:
        assert "already answered" in texts(dispatcher)[0]
    _, slots = await start(None, domain, text=f"review {in_transit.tracking_number}")
    assert (slots["survey_ready"], slots["survey_kind"]) == (True, "general")
    _, slots = await start(None, domain, text="I want to leave a review")
    assert (slots["survey_ready"], slots["survey_kind"]) == (True, "general")


async def test_questions_depend_on_the_kind(domain: dict[str, Any]) -> None:
    form = ValidateSurveyForm()

    async def required(kind: str) -> list[str]:
        tracker = make_tracker(slots={"survey_token": "t" * 32, "survey_kind": kind})
        return await form.required_slots([], CollectingDispatcher(), tracker, domain)

    assert await required("delivery") == [
        "survey_csat",
        "survey_on_time",
        "survey_condition",
        "survey_courtesy",
        "survey_nps",
        "survey_comment",
    ]
    assert await required("general") == ["survey_csat", "survey_nps", "survey_comment"]
    assert await required("relationship") == ["survey_nps", "survey_comment"]


async def test_each_answer_is_saved_as_it_is_given(
    invitation: SurveyInvitation, domain: dict[str, Any], store_url: str
) -> None:
    for slot, text, expected in [
        ("survey_csat", "four", "4"),
        ("survey_on_time", "no, a day late", "0"),
        ("survey_condition", "skip", "skipped"),
    ]:
        dispatcher, slots = await answer(slot, text, invitation.token, domain)
        assert slots[slot] == expected and not texts(dispatcher)
    # Abandoned here: what was given is kept.
    kept = stored_answers(store_url, invitation.id)
    assert kept["csat"].score == 4 and kept["csat"].text == "four"
    assert kept["on_time"].score == 0
    assert kept["condition"].skipped
    assert set(kept) == {"csat", "on_time", "condition"}


async def test_out_of_range_is_asked_again_once_then_skipped(
    invitation: SurveyInvitation, domain: dict[str, Any], store_url: str
) -> None:
    dispatcher, slots = await answer("survey_csat", "7", invitation.token, domain)
    assert slots["survey_csat"] is None and slots["survey_retries"] == {"csat": 1}
    assert "from 1 to 5" in texts(dispatcher)[0]
    assert "csat" not in stored_answers(store_url, invitation.id)
    dispatcher, slots = await answer(
        "survey_csat", "blah", invitation.token, domain, survey_retries={"csat": 1}
    )
    assert slots["survey_csat"] == "skipped"
    assert texts(dispatcher) == ["No problem, let's move on."]
    assert stored_answers(store_url, invitation.id)["csat"].skipped


async def test_a_happy_survey_ends_with_thanks_and_cannot_be_sent_twice(
    invitation: SurveyInvitation, domain: dict[str, Any], store_url: str
) -> None:
    await answer("survey_csat", "5", invitation.token, domain)
    await answer("survey_nps", "9", invitation.token, domain)
    dispatcher, slots = await submit(invitation.token, domain)
    assert "Thank you" in texts(dispatcher)[0] and slots["offer_human"] is False
    assert load(store_url, invitation.token).status is InvitationStatus.completed
    dispatcher, slots = await submit(invitation.token, domain)
    assert "already been submitted" in texts(dispatcher)[0]
    dispatcher, slots = await answer("survey_nps", "3", invitation.token, domain)
    assert slots["blocked_reason"] == "survey_completed"
    assert stored_answers(store_url, invitation.id)["nps"].score == 9
    dispatcher, slots = await start(invitation.token, domain)
    assert slots == {"survey_ready": False} and "already answered" in texts(dispatcher)[0]


@pytest.mark.parametrize(
    ("slot", "text", "words"),
    [
        ("survey_csat", "terrible", "you rated us 1 out of 5"),
        ("survey_condition", "damaged", "the goods arrived damaged"),
        ("survey_nps", "6", "you rated us 6 out of 10"),
    ],
)
async def test_an_unhappy_answer_brings_an_apology_a_follow_up_and_a_person(
    invitation: SurveyInvitation,
    domain: dict[str, Any],
    store_url: str,
    slot: str,
    text: str,
    words: str,
) -> None:
    await answer(slot, text, invitation.token, domain)
    dispatcher, slots = await submit(invitation.token, domain)
    with Session(get_engine(store_url)) as session:
        task = session.exec(
            select(FollowUpTask).where(FollowUpTask.invitation_id == invitation.id)
        ).one()
        # Service recovery opens a complaint on the delivered parcel with the survey's words.
        # (one open ticket per parcel and category: a repeat adds to it)
        expected = Category.damaged if slot == "survey_condition" else Category.other
        ticket = session.exec(
            select(ComplaintTicket).where(
                ComplaintTicket.shipment_id == invitation.shipment_id,
                ComplaintTicket.category == expected,
            )
        ).one()
    said = texts(dispatcher)[0]
    assert "I'm sorry" in said and words in said and f"FU-{task.id}" in said
    assert ticket.reference and ticket.reference in texts(dispatcher)[1]
    assert ticket.description.startswith("Post-delivery survey:")
    assert slots["offer_human"] is True


async def test_stopping_keeps_the_answers(
    invitation: SurveyInvitation, domain: dict[str, Any], store_url: str
) -> None:
    await answer("survey_csat", "3", invitation.token, domain)
    tracker = make_tracker(intent="human_handoff", slots={"survey_token": invitation.token})
    dispatcher = CollectingDispatcher()
    slots = slot_events(await ActionStopSurvey().run(dispatcher, tracker, domain))
    assert "kept the answers" in texts(dispatcher)[0] and slots["survey_csat"] is None
    assert stored_answers(store_url, invitation.id)["csat"].score == 3


async def test_opting_out_during_a_survey(
    invitation: SurveyInvitation, domain: dict[str, Any], store_url: str
) -> None:
    tracker = make_tracker(intent="survey_opt_out", slots={"survey_token": invitation.token})
    dispatcher = CollectingDispatcher()
    slots = slot_events(await ActionSurveyOptOut().run(dispatcher, tracker, domain))
    assert texts(dispatcher) == [
        "Done: we won't send surveys to the phone number ending 0999 any more. "
        "I've closed this survey too."
    ]
    assert slots["survey_token"] is None
    with Session(get_engine(store_url)) as session:
        assert session.exec(
            select(SurveyOptOut).where(SurveyOptOut.contact == "+447700900999")
        ).one()


async def test_opting_out_with_no_survey_explains_the_stop_link(domain: dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSurveyOptOut().run(dispatcher, make_tracker(intent="survey_opt_out"), domain)
    assert "Stop surveys" in texts(dispatcher)[0]


async def test_a_relationship_survey_asks_two_questions(
    store_url: str, delivered: Shipment, domain: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    with Session(get_engine(store_url)) as session:
        row = SurveyInvitation(
            token="relationship-" + "r" * 27,
            kind=SurveyKind.relationship,
            customer_id=delivered.customer_id,
            contact="buyer@example.com",
            created_at=now,
            expires_at=now + timedelta(days=14),
        )
        session.add(row)
        session.commit()
    dispatcher, slots = await start("relationship-" + "r" * 27, domain)
    assert (slots["survey_ready"], slots["survey_kind"]) == (True, "relationship")
    assert "Two questions" in texts(dispatcher)[0]
