"""The soak: many conversations at once, each filing a complaint or answering a survey to its
end, then a look in the store that everything the bot confirmed to a shipper is there exactly
once, in the right place.

A complaint is confirmed when the bot gives its `C-` reference; a survey answer when the bot
goes on to the next question (it saves each answer before asking the next). Each conversation
has a parcel of its own, so a second complaint about one parcel (which the product adds to the
open ticket as a note) never hides a lost one. The conversations are driven by the load
bench's simulated shippers (scripts/bench.py) over the widget's WebSocket.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from backend.complaints.models import ComplaintTicket
from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.store.seed import example_numbers
from backend.surveys.models import InvitationStatus, SurveyAnswer, SurveyInvitation
from scripts.bench import (
    REFERENCE,
    SURVEY_ANSWERS,
    Results,
    Shipper,
    Transcript,
    prepare_pools,
    survey_script,
)

# The shortest complaint dialogue: the first message names the parcel, the problem and tells
# the story (eight words or more), so only the callback channel is left to ask.
LATE_COMPLAINT = (
    "I want to complain about {number}, it was delivered days late and the gift was for a birthday"
)


def complaint_script(number: str) -> list[tuple[str, str, str]]:
    """A late-delivery complaint, two turns to a `C-` reference."""
    kind = "complaint"
    return [
        (kind, LATE_COMPLAINT.format(number=number), "get back to you"),
        (kind, "chat", "c-"),
    ]


@dataclass
class Planned:
    """One soak conversation: a complaint about `number`, or the survey of `token`. With
    `resend`, the shipper sends the last message again after the bot confirmed it (a double
    click, a retry after a slow answer): nothing may be stored twice."""

    kind: str
    number: str = ""
    token: str = ""
    resend: bool = False
    transcript: Transcript = field(default_factory=Transcript)

    @property
    def base_script(self) -> list[tuple[str, str, str]]:
        if self.kind == "complaint":
            return complaint_script(self.number)
        return survey_script(self.token)

    @property
    def script(self) -> list[tuple[str, str, str]]:
        script = self.base_script
        if self.resend:
            kind, text, _expected = script[-1]
            script.append((kind, text, ""))  # any polite answer; the store is what counts
        return script

    @property
    def replies(self) -> list[str]:
        """Replies up to the confirmation (without the answer to a message sent again)."""
        return self.transcript.replies[: len(self.base_script)]

    @property
    def confirmed(self) -> bool:
        return len(self.replies) == len(self.base_script)

    @property
    def reference(self) -> str | None:
        """The ticket reference the bot gave, if it got that far."""
        if self.kind != "complaint" or not self.confirmed:
            return None
        found = REFERENCE.search(self.replies[-1])
        return found.group(0) if found else None

    @property
    def confirmed_answers(self) -> list[tuple[str, int | None]]:
        """(question, score kept) of each answer the bot acknowledged by asking the next."""
        if self.kind != "survey":
            return []
        acknowledged = max(0, len(self.replies) - 1)  # the first reply is the survey's intro
        return [(q, score) for q, _said, _asks, score in SURVEY_ANSWERS[:acknowledged]]


def plan(url: str, conversations: int, seed: int) -> list[Planned]:
    """Half complaints, half surveys, shuffled, a quarter of each sending its last message
    twice; every conversation on a parcel of its own:
    delivered, not damaged (the load bench's claims use those), with no ticket yet, and none
    of the example parcels the e2e suites use."""
    complaints = conversations // 2
    surveys = conversations - complaints
    with Session(get_engine(url)) as session:
        examples = set(example_numbers(session).values())
        ticketed = select(ComplaintTicket.shipment_id).where(
            col(ComplaintTicket.shipment_id).is_not(None)
        )
        query = (
            select(Shipment.tracking_number)
            .where(
                Shipment.status == ShipmentStatus.delivered,
                col(Shipment.damaged).is_(False),
                col(Shipment.id).not_in(ticketed),
            )
            .order_by(col(Shipment.id))
        )
        numbers = [n for n in session.exec(query) if n not in examples]
    rng = random.Random(seed)
    if len(numbers) < complaints:
        raise ValueError(f"the store has {len(numbers)} parcels free for {complaints} complaints")
    chosen = rng.sample(numbers, complaints)
    tokens = prepare_pools(url, survey_invitations=surveys).survey_tokens
    if len(tokens) < surveys:
        raise ValueError(f"the store has {len(tokens)} parcels to survey, {surveys} wanted")
    # One conversation in four sends its confirming message twice.
    planned = [Planned("complaint", number=n, resend=i % 4 == 0) for i, n in enumerate(chosen)]
    planned += [Planned("survey", token=t, resend=i % 4 == 0) for i, t in enumerate(tokens)]
    rng.shuffle(planned)
    return planned


async def drive_all(url: str, planned: list[Planned], concurrency: int, seed: int) -> Results:
    """Every planned conversation, `concurrency` at a time, as fast as the stack answers."""
    results = Results()
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, conversation: Planned) -> None:
        async with gate:
            shipper = Shipper(url, results, 0.0, random.Random(seed * 1000 + index))
            conversation.transcript = await shipper.conversation(conversation.script)

    started = time.monotonic()
    await asyncio.gather(*(one(i, c) for i, c in enumerate(planned)))
    results.seconds = time.monotonic() - started
    return results


@dataclass
class Verdict:
    """What the bot confirmed against what the store holds."""

    conversations: int = 0
    # Conversations that got to their confirmation; of them, those that then sent their
    # confirming message again and got an answer.
    finished: int = 0
    resent: int = 0
    tickets_confirmed: int = 0
    tickets_found: int = 0
    tickets_missing: int = 0
    tickets_duplicated: int = 0
    # A confirmed reference whose ticket belongs to another conversation or parcel.
    tickets_misplaced: int = 0
    # Tickets of soak conversations the bot never confirmed (a reply lost on the way).
    tickets_unconfirmed: int = 0
    answers_confirmed: int = 0
    answers_found: int = 0
    answers_missing: int = 0
    answers_duplicated: int = 0
    # A confirmed answer stored with another value, or under another conversation's survey.
    answers_misplaced: int = 0
    surveys_finished: int = 0
    surveys_completed_in_store: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return not (
            self.tickets_missing
            or self.tickets_duplicated
            or self.tickets_misplaced
            or self.answers_missing
            or self.answers_duplicated
            or self.answers_misplaced
            or self.surveys_finished != self.surveys_completed_in_store
        )

    @property
    def complete(self) -> bool:
        """Every conversation got to its confirmation: nothing went untested."""
        return self.finished == self.conversations

    def problem(self, text: str) -> None:
        if len(self.problems) < 8:
            self.problems.append(text)


def verify(url: str, planned: list[Planned]) -> Verdict:
    verdict = Verdict(conversations=len(planned))
    verdict.finished = sum(p.confirmed for p in planned)
    verdict.resent = sum(p.resend and p.transcript.finished for p in planned)
    with Session(get_engine(url)) as session:
        _verify_tickets(session, planned, verdict)
        _verify_answers(session, planned, verdict)
    return verdict


def _verify_tickets(session: Session, planned: list[Planned], verdict: Verdict) -> None:
    complaints = [p for p in planned if p.kind == "complaint"]
    ids = [p.transcript.conversation_id for p in complaints if p.transcript.conversation_id]
    numbers = [p.number for p in complaints]
    rows = session.exec(
        select(ComplaintTicket, Shipment.tracking_number)
        .join(Shipment, col(Shipment.id) == col(ComplaintTicket.shipment_id), isouter=True)
        .where(
            col(ComplaintTicket.conversation_id).in_(ids)
            | col(Shipment.tracking_number).in_(numbers)
        )
    ).all()
    by_reference: dict[str, list[tuple[ComplaintTicket, str | None]]] = {}
    for ticket, number in rows:
        by_reference.setdefault(ticket.reference or "", []).append((ticket, number))
    # One parcel, one conversation, one ticket: more than one is a duplicate, however made.
    per_parcel = Counter(number for _ticket, number in rows if number is not None)
    verdict.tickets_duplicated = sum(n - 1 for n in per_parcel.values() if n > 1)
    confirmed: set[str] = set()
    for conversation in complaints:
        reference = conversation.reference
        if reference is None:
            continue
        verdict.tickets_confirmed += 1
        confirmed.add(reference)
        found = by_reference.get(reference, [])
        if not found:
            verdict.tickets_missing += 1
            verdict.problem(f"ticket {reference} confirmed but not in the store")
            continue
        verdict.tickets_found += 1
        ticket, number = found[0]
        if (
            ticket.conversation_id != conversation.transcript.conversation_id
            or number != conversation.number
        ):
            verdict.tickets_misplaced += 1
            verdict.problem(
                f"ticket {reference} confirmed to {conversation.transcript.conversation_id} "
                f"about {conversation.number}, stored for {ticket.conversation_id} about {number}"
            )
    verdict.tickets_unconfirmed = len(set(by_reference) - confirmed)


def _verify_answers(session: Session, planned: list[Planned], verdict: Verdict) -> None:
    surveys = [p for p in planned if p.kind == "survey"]
    invitations = {
        i.token: i
        for i in session.exec(
            select(SurveyInvitation).where(
                col(SurveyInvitation.token).in_([p.token for p in surveys])
            )
        )
    }
    answers: dict[int, list[SurveyAnswer]] = {}
    for answer in session.exec(
        select(SurveyAnswer).where(
            col(SurveyAnswer.invitation_id).in_([i.id for i in invitations.values()])
        )
    ):
        answers.setdefault(answer.invitation_id, []).append(answer)
    for conversation in surveys:
        invitation = invitations.get(conversation.token)
        stored = answers.get(invitation.id or 0, []) if invitation else []
        counts = Counter(a.question for a in stored)
        verdict.answers_duplicated += sum(n - 1 for n in counts.values() if n > 1)
        if conversation.confirmed:
            verdict.surveys_finished += 1
            if invitation is not None and invitation.status is InvitationStatus.completed:
                verdict.surveys_completed_in_store += 1
            else:
                verdict.problem(f"survey {conversation.token} finished but not completed")
        for question, score in conversation.confirmed_answers:
            verdict.answers_confirmed += 1
            kept = [a for a in stored if a.question == question]
            if not kept:
                verdict.answers_missing += 1
                verdict.problem(f"answer {question} of {conversation.token} confirmed, not stored")
                continue
            verdict.answers_found += 1
            answer = kept[0]
            right_value = answer.skipped if score is None else answer.score == score
            assert invitation is not None
            if not right_value or invitation.conversation_id != (
                conversation.transcript.conversation_id
            ):
                verdict.answers_misplaced += 1
                verdict.problem(
                    f"answer {question} of {conversation.token}: stored score {answer.score} "
                    f"(skipped {answer.skipped}) in {invitation.conversation_id}, "
                    f"confirmed {score} in {conversation.transcript.conversation_id}"
                )


def print_soak(verdict: Verdict, results: Results, concurrency: int, label: str) -> None:
    kinds = Counter(kind for kind, values in results.latencies.items() for _ in values)
    rate = results.turns / results.seconds if results.seconds else 0.0
    print(
        f"\nsoak, {label}: {verdict.conversations} conversations, {concurrency} at a time: "
        f"{results.turns} turns in {results.seconds:.0f} s ({rate:.1f} turns/s; "
        + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        + ")"
    )
    errors, wrong = sum(results.errors.values()), sum(results.wrong.values())
    print(
        f"  finished {verdict.finished} ({verdict.resent} then sent their last message again), "
        f"errors {errors}, wrong answers {wrong}"
    )
    v = verdict
    print(
        f"  tickets  confirmed {v.tickets_confirmed:>4}  found {v.tickets_found:>4}  "
        f"missing {v.tickets_missing}  duplicates {v.tickets_duplicated}  "
        f"misplaced {v.tickets_misplaced}  written but not confirmed {v.tickets_unconfirmed}"
    )
    print(
        f"  answers  confirmed {v.answers_confirmed:>4}  found {v.answers_found:>4}  "
        f"missing {v.answers_missing}  duplicates {v.answers_duplicated}  "
        f"misplaced {v.answers_misplaced}"
    )
    print(
        f"  surveys  finished {v.surveys_finished:>4}  completed in the store "
        f"{v.surveys_completed_in_store}"
    )
    print(f"  exactly once: {'yes' if v.exactly_once else 'NO'}")
    for sample in [*v.problems, *results.samples]:
        print(f"    e.g. {sample}")


def soak(
    ws_url: str, database_url: str, conversations: int, concurrency: int, seed: int = 7
) -> tuple[Verdict, Results]:
    """Plan, drive and verify one soak run against a running stack."""
    planned = plan(database_url, conversations, seed)
    results = asyncio.run(drive_all(ws_url, planned, concurrency, seed))
    return verify(database_url, planned), results
