"""The feedback survey: started by a delivery (in an open chat), a survey link, or the user.

Each answer is read (digits, words, stars, buttons, "skip") and saved the moment it is given,
so an abandoned survey keeps its partial answers. An answer that cannot be read, or is out of
range, is asked again once; a second miss skips the question. The store decides whether the
survey is still open: a finished one cannot be answered twice, an expired or unknown link is
declined politely. Unhappy answers (CSAT 2 or less, damaged, NPS 6 or less) end with an
apology, a follow-up task for the customer-care team and the offer of a person.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.forms import latest_intent, latest_text, reset_form_state
from actions.store import StoreError, store_session
from actions.verification import is_verified
from backend.store import queries, tracking_numbers
from backend.store.models import Shipment, ShipmentStatus
from backend.surveys import answers as survey_answers
from backend.surveys.answers import Parsed, SurveyClosed, parse_answer
from backend.surveys.invitations import (
    closed_reason,
    find_by_token,
    invite_on_request,
    opt_out,
)
from backend.surveys.models import SurveyKind
from backend.surveys.recovery import open_recovery_complaint

logger = logging.getLogger(__name__)

# Form slot -> question key in the store.
SLOT_QUESTIONS = {
    "survey_csat": "csat",
    "survey_on_time": "on_time",
    "survey_condition": "condition",
    "survey_courtesy": "courtesy",
    "survey_nps": "nps",
    "survey_comment": "comment",
}
QUESTION_SLOTS = {question: slot for slot, question in SLOT_QUESTIONS.items()}
# Questions per survey_kind slot value.
KIND_QUESTIONS = {
    "delivery": ("csat", "on_time", "condition", "courtesy", "nps", "comment"),
    "general": ("csat", "nps", "comment"),
    "relationship": ("nps", "comment"),
}
SURVEY_SLOTS = (*SLOT_QUESTIONS, "survey_retries")

INTRO = {
    "delivery": (
        "Thanks for taking a moment to tell us how the delivery of {number} went. "
        'Six quick questions; say "skip" to pass on any of them.'
    ),
    "general": (
        "Thank you, we'd love to hear how we're doing. Three quick questions; say \"skip\" "
        "to pass on any of them."
    ),
    "relationship": (
        "Thank you for making time for us. Two questions about Parcelline's service to your "
        'business; say "skip" to pass on either.'
    ),
}
CLOSED = {
    "unknown": (
        "I couldn't find that survey; the link may be incomplete. If you'd like to leave "
        'feedback anyway, just say "I want to leave a review".'
    ),
    "completed": "You've already answered this survey, thank you! We only count each survey once.",
    "expired": (
        "Sorry, this survey closed on {date}, so it can't take answers any more. Thank you "
        "for wanting to help; if something went wrong, I'm happy to help now."
    ),
    "opted_out": "You asked us not to send you surveys, so this one is closed. Thank you!",
}
RETRY = {
    "csat": 'Sorry, I didn\'t get that. Please give a number from 1 to 5 (or say "skip").',
    "courtesy": 'Sorry, I didn\'t get that. Please give a number from 1 to 5 (or say "skip").',
    "nps": 'Sorry, I didn\'t get that. Please give a number from 0 to 10 (or say "skip").',
    "on_time": 'Sorry, I didn\'t get that. Just "yes" or "no" is fine (or "skip").',
    "condition": 'Sorry, I didn\'t get that. Was everything intact: "yes" or "no"?',
}
MOVE_ON = "No problem, let's move on."
THANKS = "Thank you, that's really helpful! Your feedback goes straight to our operations team."
SORRY = (
    "I'm sorry we let you down ({reasons}). I've passed this to our customer-care team "
    "(reference FU-{task_id}), and {callback}"
)
COMPLAINT_OPENED = (
    "I've also opened complaint {reference} about this delivery, so it gets a proper answer; "
    "you can ask me about it any time with that reference."
)
CALLBACK_PRIORITY = "as a valued customer you'll get a call back within 4 hours."
CALLBACK_NORMAL = "they'll look into it and get back to you."
# When a survey closes while it is being answered (finished in another window, expired).
CLOSED_NOW = {
    "unknown": "Sorry, I can't find this survey any more, so I've stopped here.",
    "completed": "This survey has already been submitted, thank you. Nothing more is needed.",
    "expired": "Sorry, this survey has just closed, so it can't take more answers. Thank you!",
    "opted_out": "This survey is closed. Thank you!",
}
KEPT = "No problem, I've kept the answers you gave. Thank you!"
OPTED_OUT = "Done: we won't send surveys to {who} any more."
OPT_OUT_HOW = (
    "I can't tell from this chat which phone number or e-mail to stop. Every survey message "
    'has a "Stop surveys" link at the end: opening it stops them for good.'
)
SURVEY_STOPPED = " I've closed this survey too."


def _now() -> datetime:
    return datetime.now(UTC)


def _clear_survey() -> list[EventType]:
    return [SlotSet(slot, None) for slot in SURVEY_SLOTS]


def _mask(contact: str) -> str:
    if "@" in contact:
        name, _, domain = contact.partition("@")
        return f"{name[:1]}…@{domain}"
    return f"the phone number ending {contact[-4:]}"


class ActionStartSurvey(Action):
    """`give_feedback`: with a survey token (link or delivery), that survey; otherwise one
    about the parcel the user names (its delivery survey when it has one), or a general one."""

    def name(self) -> str:
        return "action_start_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        token = next(tracker.get_latest_entity_values("survey_token"), None)
        not_ready = [SlotSet("survey_ready", False)]
        try:
            with store_session() as session:
                if token:
                    invitation = find_by_token(session, token)
                else:
                    shipment = self._named_shipment(tracker, session)
                    # Only a chat that proved it is the recipient's answers (or stops) the
                    # delivery survey itself; anyone else's feedback is kept on its own.
                    proven = shipment is not None and is_verified(tracker, shipment.tracking_number)
                    invitation = invite_on_request(
                        session, shipment, tracker.sender_id, reuse_delivery=proven
                    )
                now = _now()
                reason = closed_reason(invitation, now)
                if reason is not None or invitation is None:
                    date = f"{invitation.expires_at:%-d %B}" if invitation else ""
                    dispatcher.utter_message(text=CLOSED[reason or "unknown"].format(date=date))
                    return not_ready
                survey_answers.start(session, invitation, tracker.sender_id, now)
                shipment = (
                    session.get(Shipment, invitation.shipment_id)
                    if invitation.shipment_id
                    else None
                )
                if invitation.kind is SurveyKind.relationship:
                    kind = "relationship"
                elif shipment is not None and shipment.status is ShipmentStatus.delivered:
                    kind = "delivery"
                else:
                    kind = "general"
                number = shipment.tracking_number if shipment else ""
                token = invitation.token
        except StoreError:
            logger.exception("survey start failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return not_ready
        dispatcher.utter_message(text=INTRO[kind].format(number=number))
        events: list[EventType] = [
            *_clear_survey(),
            SlotSet("survey_token", token),
            SlotSet("survey_kind", kind),
            SlotSet("blocked_reason", None),
        ]
        return [*events, SlotSet("survey_ready", True)]

    @staticmethod
    def _named_shipment(tracker: Tracker, session: Any) -> Any:
        text = latest_text(tracker)
        candidates = list(tracker.get_latest_entity_values("tracking_number"))
        candidates += tracking_numbers.find_candidates(text) if text else []
        for candidate in candidates:
            checked = tracking_numbers.validate(candidate)
            if checked.ok:
                return queries.find_shipment(session, checked.number)
        return None


class ValidateSurveyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_survey_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        if tracker.get_slot("blocked_reason") or not tracker.get_slot("survey_token"):
            return []
        questions = KIND_QUESTIONS.get(
            tracker.get_slot("survey_kind") or "", KIND_QUESTIONS["general"]
        )
        return [QUESTION_SLOTS[q] for q in questions]

    def _answer(
        self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        question = SLOT_QUESTIONS[slot]
        text = value if isinstance(value, str) else ""
        parsed = parse_answer(question, text)
        retries = dict(tracker.get_slot("survey_retries") or {})
        if parsed.outcome == "invalid":
            if not retries.get(question):
                retries[question] = 1
                dispatcher.utter_message(text=RETRY[question])
                return {slot: None, "survey_retries": retries}
            dispatcher.utter_message(text=MOVE_ON)
            parsed = Parsed("skip", text=text[:2000] or None)
        try:
            with store_session() as session:
                invitation = find_by_token(session, tracker.get_slot("survey_token"))
                if invitation is None:
                    raise SurveyClosed("unknown")
                survey_answers.record_answer(session, invitation, question, parsed, _now())
        except SurveyClosed as closed:
            dispatcher.utter_message(text=CLOSED_NOW[closed.reason])
            return {slot: "closed", "blocked_reason": f"survey_{closed.reason}"}
        except StoreError:
            logger.exception("saving a survey answer failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return {slot: "unsaved", "blocked_reason": "store_down"}
        if parsed.outcome == "skip":
            return {slot: "skipped", "survey_retries": retries}
        answer = "answered" if parsed.score is None else str(parsed.score)
        return {slot: answer, "survey_retries": retries}

    def validate_survey_csat(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return self._answer("survey_csat", value, dispatcher, tracker)

    def validate_survey_on_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return self._answer("survey_on_time", value, dispatcher, tracker)

    def validate_survey_condition(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return self._answer("survey_condition", value, dispatcher, tracker)

    def validate_survey_courtesy(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return self._answer("survey_courtesy", value, dispatcher, tracker)

    def validate_survey_nps(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return self._answer("survey_nps", value, dispatcher, tracker)

    def validate_survey_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        return self._answer("survey_comment", value, dispatcher, tracker)


class ActionSubmitSurvey(Action):
    def name(self) -> str:
        return "action_submit_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        closing = [*_clear_survey(), SlotSet("survey_token", None), SlotSet("survey_ready", False)]
        if tracker.get_slot("blocked_reason"):
            return [*closing, *reset_form_state()]
        try:
            with store_session() as session:
                invitation = find_by_token(session, tracker.get_slot("survey_token"))
                if invitation is None:
                    raise SurveyClosed("unknown")
                survey_answers.complete(session, invitation, _now())
                given = survey_answers.answers_of(session, invitation)
                reasons = survey_answers.unhappy_reasons(given)
                task = survey_answers.follow_up_of(session, invitation) if reasons else None
                task_id = task.id if task else None
                priority = bool(task and task.priority_callback)
                complaint = (
                    open_recovery_complaint(
                        session, invitation, given, reasons, conversation_id=tracker.sender_id
                    )
                    if reasons
                    else None
                )
        except SurveyClosed as closed:
            dispatcher.utter_message(text=CLOSED_NOW[closed.reason])
            return [*closing, *reset_form_state()]
        except StoreError:
            logger.exception("finishing a survey failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return [*closing, *reset_form_state()]
        if not reasons:
            dispatcher.utter_message(text=THANKS)
            return [*closing, *reset_form_state()]
        words = ", ".join(_reason_words(r) for r in reasons)
        callback = CALLBACK_PRIORITY if priority else CALLBACK_NORMAL
        dispatcher.utter_message(
            text=SORRY.format(reasons=words, task_id=task_id, callback=callback)
        )
        if complaint:
            dispatcher.utter_message(text=COMPLAINT_OPENED.format(reference=complaint))
        return [*closing, *reset_form_state(offer_human=True)]


def _reason_words(reason: str) -> str:
    if reason == "damaged":
        return "the goods arrived damaged"
    kind, _, score = reason.partition(" ")
    return f"you rated us {score} out of {'5' if kind == 'CSAT' else '10'}"


class ActionStopSurvey(Action):
    """The user left or asked for a person mid-survey: the answers given so far stay saved."""

    def name(self) -> str:
        return "action_stop_survey"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("survey_token") and latest_intent(tracker) != "goodbye":
            dispatcher.utter_message(text=KEPT)
        return [*_clear_survey(), SlotSet("survey_ready", False), *reset_form_state()]


class ActionSurveyOptOut(Action):
    """ "Stop sending me surveys": honoured for the survey's phone or e-mail from now on."""

    def name(self) -> str:
        return "action_survey_opt_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        token = tracker.get_slot("survey_token")
        events: list[EventType] = [
            *_clear_survey(),
            SlotSet("survey_token", None),
            SlotSet("survey_ready", False),
            *reset_form_state(),
        ]
        contact = ""
        try:
            with store_session() as session:
                invitation = find_by_token(session, token) if token else None
                contact = invitation.contact if invitation else ""
                if contact:
                    opt_out(session, contact)
        except StoreError:
            logger.exception("survey opt-out failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return events
        if not contact:
            dispatcher.utter_message(text=OPT_OUT_HOW)
            return events
        text = OPTED_OUT.format(who=_mask(contact))
        if token:
            text += SURVEY_STOPPED
        dispatcher.utter_message(text=text)
        return events
