"""The soak's check of the store, on a small seeded SQLite store with conversations written
as the actions write them: it counts what was confirmed and found, and it catches a missing,
duplicated or misplaced ticket or answer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from backend.complaints import service
from backend.complaints.models import Category, ComplaintTicket
from backend.store.db import session_scope
from backend.store.queries import find_shipment
from backend.store.seed import seed_database
from backend.surveys import answers
from backend.surveys.answers import parse_answer
from backend.surveys.invitations import find_by_token
from scripts.bench import SURVEY_ANSWERS
from scripts.soak import Planned, Transcript, plan, verify


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('soak')) / 'store.db'}"
    seed_database(url, customers=20, shipments=300, seed=11, echo=lambda _: None)
    return url


def file(url: str, conversation: Planned, conversation_id: str) -> str:
    """File the complaint as the action does; the reference."""
    with session_scope(url) as session:
        shipment = find_shipment(session, conversation.number)
        filed = service.file_complaint(
            session,
            category=Category.late_delivery,
            description="it was due days ago and still hasn't arrived",
            shipment=shipment,
            conversation_id=conversation_id,
        )
        return str(filed.ticket.reference)


def answer_all(url: str, conversation: Planned, conversation_id: str) -> None:
    with session_scope(url) as session:
        invitation = find_by_token(session, conversation.token)
        assert invitation is not None
        answers.start(session, invitation, conversation_id, datetime.now(UTC))
        for question, said, _asks, _score in SURVEY_ANSWERS:
            answers.record_answer(session, invitation, question, parse_answer(question, said))
        answers.complete(session, invitation)


def confirmed(conversation: Planned, conversation_id: str, reference: str = "") -> None:
    """The transcript of a conversation that got every expected reply."""
    replies = ["ok"] * len(conversation.script)
    if reference:
        replies[len(conversation.base_script) - 1] = f"Your reference is {reference}."
    conversation.transcript = Transcript(conversation_id, replies, finished=True)


def test_plan_gives_every_conversation_a_parcel_of_its_own(store: str) -> None:
    planned = plan(store, 40, seed=3)
    complaints = [p for p in planned if p.kind == "complaint"]
    surveys = [p for p in planned if p.kind == "survey"]
    assert len(complaints) == len(surveys) == 20
    assert len({p.number for p in complaints}) == 20
    assert len({p.token for p in surveys}) == 20
    assert sum(p.resend for p in planned) == 10
    assert {kind for kind, *_ in complaints[0].script} == {"complaint"}


def test_everything_confirmed_and_stored_once_is_counted_so(store: str) -> None:
    planned = plan(store, 8, seed=4)
    for index, conversation in enumerate(planned):
        cid = f"soak-good-{index}"
        if conversation.kind == "complaint":
            confirmed(conversation, cid, file(store, conversation, cid))
        else:
            answer_all(store, conversation, cid)
            confirmed(conversation, cid)
    verdict = verify(store, planned)
    assert verdict.exactly_once, verdict.problems
    assert (verdict.conversations, verdict.finished) == (8, 8)
    assert verdict.tickets_confirmed == verdict.tickets_found == 4
    assert verdict.answers_confirmed == verdict.answers_found == 24
    assert verdict.surveys_finished == verdict.surveys_completed_in_store == 4
    assert verdict.tickets_unconfirmed == 0


def test_a_lost_a_duplicated_and_a_misplaced_ticket_are_caught(store: str) -> None:
    lost, doubled, elsewhere, unconfirmed = [
        p for p in plan(store, 12, seed=5) if p.kind == "complaint"
    ][:4]
    confirmed(lost, "soak-lost", "C-26-99999")
    reference = file(store, doubled, "soak-doubled")
    confirmed(doubled, "soak-doubled", reference)
    with session_scope(store) as session:  # a second ticket on that parcel, as a retry would
        ticket = session.exec(
            select(ComplaintTicket).where(ComplaintTicket.reference == reference)
        ).one()
        ticket.status = service.TicketStatus.resolved  # closed, so the next one is new
        session.add(ticket)
    file(store, doubled, "soak-doubled")
    confirmed(elsewhere, "soak-elsewhere", file(store, elsewhere, "another-conversation"))
    file(store, unconfirmed, "soak-unconfirmed")
    unconfirmed.transcript = Transcript("soak-unconfirmed", ["ok"], finished=False)
    verdict = verify(store, [lost, doubled, elsewhere, unconfirmed])
    assert not verdict.exactly_once
    assert verdict.tickets_confirmed == 3
    assert verdict.tickets_missing == 1
    assert verdict.tickets_duplicated == 1
    assert verdict.tickets_misplaced == 1
    assert verdict.tickets_unconfirmed == 2  # the retry's second ticket and the unconfirmed one
    assert verdict.finished == 3


def test_a_missing_or_changed_answer_is_caught(store: str) -> None:
    first, second = [p for p in plan(store, 12, seed=6) if p.kind == "survey"][:2]
    answer_all(store, first, "soak-first")
    confirmed(first, "soak-first")
    with session_scope(store) as session:
        invitation = find_by_token(session, second.token)
        assert invitation is not None
        answers.start(session, invitation, "soak-second", datetime.now(UTC))
        answers.record_answer(session, invitation, "csat", parse_answer("csat", "2"))
    # The bot acknowledged csat (4) and on_time, then the conversation broke off.
    second.transcript = Transcript("soak-second", ["intro", "on time?", "condition?"])
    verdict = verify(store, [first, second])
    assert verdict.answers_confirmed == 8
    assert verdict.answers_found == 7
    assert verdict.answers_missing == 1  # on_time
    assert verdict.answers_misplaced == 1  # csat stored as 2
    assert verdict.surveys_finished == verdict.surveys_completed_in_store == 1
    assert not verdict.exactly_once
