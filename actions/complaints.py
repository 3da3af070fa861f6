"""Complaints and claims: take a complaint as a good agent would, record it, and answer
"what's happening with my complaint?" for the person who filed it.

The category is recognised from what the user already said (keywords below, or the
`complaint_category` entity a button sends), and the form asks only for what that category
needs: the tracking number for parcel complaints, the claimed amount and photos for damage and
loss, the callback channel and how to reach them (a phone callback goes to the number the
person proved, when they proved one: nothing on file is shown to anyone else). Amounts and
contact details can be corrected at any point in the form by just saying the new value
("actually it was £45", "use my email ava@example.com instead").
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import messages
from actions.forms import (
    INTERRUPTIONS,
    OFFER_HUMAN_AFTER,
    EndsWhenBlocked,
    is_answer,
    is_aside,
    is_fresh_message,
    latest_intent,
    latest_text,
    reset_form_state,
)
from actions.handoff import hand_over
from actions.store import StoreError, store_session
from actions.verification import ShipmentAccessForm, is_verified
from backend.complaints import service, sla
from backend.complaints.models import CallbackChannel, Category, ComplaintTicket, Tier
from backend.config import carrier_zone
from backend.handoff.models import Reason
from backend.store import queries
from backend.store.models import Shipment
from backend.tone import COMPLAINT_CALM, Tone, tone_of

logger = logging.getLogger(__name__)

# Categories about one parcel: the tracking number is required.
PARCEL_CATEGORIES = frozenset(
    {Category.late_delivery, Category.damaged, Category.lost, Category.misdelivery}
)
# Categories that are claims for money: amount and photos are asked for.
CLAIM_CATEGORIES = frozenset({Category.damaged, Category.lost})
# First match wins, so "the driver threw it and it broke" is damage, not conduct.
CATEGORY_KEYWORDS: list[tuple[Category, re.Pattern[str]]] = [
    (
        Category.damaged,
        re.compile(
            r"\b(damag\w*|crush\w*|broke|broken|smash\w*|dent\w*|torn|ripped|soak\w*|"
            r"wet|leak\w*|shatter\w*|crack\w*|squash\w*|ruined|bashed|destroyed|snapped|"
            r"in (?:bits|pieces)|forced through the letterbox)\b"
        ),
    ),
    (
        Category.lost,
        re.compile(
            r"\b(lost|missing|disappeared|vanished|stolen|nicked|never (?:arrived|came|"
            r"turned up|got it|received|dropped off)|not received|didn'?t receive|nothing came|"
            r"(?:somebody|someone|they) (?:has |have )?taken it|arrived (?:open and )?empty|"
            r"nothing inside|it'?s gone)\b"
        ),
    ),
    (
        Category.misdelivery,
        re.compile(
            r"\b(wrong (?:address|house|door|flat|person|street)|neighbou?rs?|misdeliver\w*|"
            r"delivered (?:it )?to (?:the wrong|someone else|another)|(?:someone|somebody) "
            r"else'?s?|not my address|not mine|instead of (?:mine|my|number|\d+)|signed for by|"
            r"(?:went|gone|delivered|left)(?: it)?(?: to)?(?: the house)? next door|"
            r"left (?:it )?(?:outside|in the bin|on the street|in the rain|in (?:a |the )?safe "
            r"place)|never agreed to a safe place|dumped|communal hallway)\b"
        ),
    ),
    (
        Category.courier_conduct,
        re.compile(
            r"\b(rude\w*|drivers?|couriers?|delivery (?:guy|man|person)|threw|thrown|chucked|"
            r"attitude|shout\w*|swore|impolite|unprofessional|didn'?t (?:knock|ring)|"
            r"without knocking|aggressive|smoking)\b"
        ),
    ),
    (
        Category.billing,
        re.compile(
            r"\b(charg\w*|overcharg\w*|bill\w*|invoice\w*|fee|fees|price|paid twice|"
            r"refund\w*|payment|surcharge|vat)\b"
        ),
    ),
    (
        Category.late_delivery,
        re.compile(
            r"\b(late|delay\w*|overdue|still (?:not|nothing|hasn'?t|waiting)|waiting|slow|"
            r"should have (?:arrived|come)|was due|not on time|days? ago|in time for|"
            r"turned up at|nobody turned up|sat at the depot)\b"
        ),
    ),
]
_CORRECTION = re.compile(r"\b(actually|i meant|correction|not \w+ but|rather|sorry,? it)\b", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])(?:\+44\s?|0)\d(?:[\s-]?\d){8,9}(?![\w])")
_MONEY = re.compile(r"£|\bpounds?\b|\bgbp\b|\bquid\b", re.I)
_NUMBER = re.compile(
    r"(-|minus\s*)?£?\s*(\d[\d,]*(?:\.\d+)?(?:e\d+)?)\s*(k\b|million|billion)?", re.I
)
_YES = re.compile(r"\b(yes|yeah|yep|i do|i have|got (?:some|them|photos|pictures)|took)\b", re.I)
_NO = re.compile(r"\b(no|nope|none|don'?t|didn'?t|not)\b", re.I)
MIN_DESCRIPTION_WORDS = 3
DESCRIPTION_FROM_FIRST_MESSAGE_WORDS = 8
# How a question starts: an off-topic question asked instead of the description is answered
# as one ("what's the weather in Leeds"); an off-topic statement is the story itself.
QUESTION_STARTS = frozenset(
    [
        "what",
        "what's",
        "whats",
        "where",
        "when",
        "why",
        "how",
        "who",
        "which",
        "can",
        "could",
        "do",
        "does",
        "did",
        "is",
        "are",
        "will",
        "would",
        "should",
        "may",
    ]
)


def is_story_read_as_off_topic(tracker: Tracker) -> bool:
    """The shipper's own account of what happened, which the classifier took for an off-topic
    message ("the handle of the mug is also snapped off"): a statement, not a question, given
    when the form asks for the description."""
    if (
        tracker.get_slot("requested_slot") != "complaint_description"
        or latest_intent(tracker) != "out_of_scope"
    ):
        return False
    text = latest_text(tracker).strip().lower()
    words = text.split()
    return bool(words) and not text.endswith("?") and words[0] not in QUESTION_STARTS


MAX_TICKET_ATTEMPTS = 2
MAX_PROOF_ATTEMPTS = 3

COMPLAINT_SLOTS = (
    "complaint_category",
    "complaint_description",
    "claimed_amount",
    "has_photos",
    "callback_channel",
    "contact_details",
    "complaint_proof",
)

NEXT_STEPS = {
    Category.late_delivery: "We'll find out from the depot why it was delayed and what we can do.",
    Category.damaged: (
        "Please keep the parcel, the packaging and any photos until a claims handler has "
        "been in touch."
    ),
    Category.lost: (
        "We'll run a final search of our network; if it isn't found, the claim is settled up "
        "to the declared value."
    ),
    Category.misdelivery: "We'll ask the driver and the depot where it was left and recover it.",
    Category.billing: "Our accounts team will check the charges and refund any overcharge.",
    Category.courier_conduct: "The driver's manager will look into what happened.",
    Category.other: "The right team will look into it.",
}
CHANNEL_WORDS = {
    CallbackChannel.phone: "by phone",
    CallbackChannel.email: "by email",
    CallbackChannel.chat: "here in the chat (ask me for your complaint's status any time)",
}

FILED = (
    "I've recorded your complaint{about}. Your reference is {reference}; please quote it if "
    "you contact us."
)
FILED_VIP = (
    "As one of our priority customers, it goes straight to our VIP desk, and a person will "
    "answer {channel} {deadline}."
)
FILED_STANDARD = "We'll answer {channel} {deadline}."
MERGED = (
    "You already have an open complaint about this parcel, {reference}, so I've added these "
    "details to it rather than open a second one. We'll still answer {deadline}."
)
SAFETY = (
    "That sounds serious, so I'm passing you to a person straight away. Please call us now "
    "on 0330 123 4567; if anyone is in danger, call 999 first."
)
URGENT_RECORDED = "I've also logged it for our team as urgent, reference {reference}."
CATEGORY_UNCLEAR = (
    "Sorry, I didn't catch what kind of problem it is. Please pick one of the options."
)
DESCRIPTION_SHORT = "Could you tell me a little more about what happened?"
DESCRIPTION_LONG = (
    "That's more than I can take in one message ({limit} characters). Please give me the "
    "main points; you can send the rest to our team later."
)
AMOUNT_UNCLEAR = "Please give the amount in pounds, for example £45 or 45.50."
PHOTOS_UNCLEAR = "Please answer yes or no: do you have photos?"
CHANNEL_UNCLEAR = "Please choose phone, email or chat."
CONTACT_ON_FILE = (
    "I'll call the phone number you confirmed ({masked}). If you'd rather we used another, "
    "just type it."
)
CONTACT_UNCLEAR = (
    "That doesn't look like a UK phone number or an email address. Please type it again, for "
    "example 07700 900123 or name@example.com."
)
TICKET_UNKNOWN = "I can't find a complaint with the reference {reference}."
TICKET_UNCLEAR = "A complaint reference looks like C-26-00123."
TICKET_STILL_UNKNOWN = "I still can't find that complaint, sorry."
PROOF_MISMATCH = (
    "That doesn't match the complaint's details, so I can't show it. You can try {left} more "
    "time{plural}."
)
PROOF_LOCKED = (
    "That doesn't match either, so I can't show this complaint here. Our team can help on "
    "0330 123 4567."
)


def categories_in(text: str) -> list[Category]:
    """Every category `text` mentions, the strongest first."""
    lowered = (text or "").lower()
    return [category for category, pattern in CATEGORY_KEYWORDS if pattern.search(lowered)]


def detect_category(text: str) -> Category | None:
    found = categories_in(text)
    return found[0] if found else None


def category_from(tracker: Tracker) -> Category | None:
    for entity in tracker.latest_message.get("entities", []):
        if entity.get("entity") == "complaint_category":
            try:
                return Category(str(entity.get("value")))
            except ValueError:
                continue
    return detect_category(latest_text(tracker))


def current_category(tracker: Tracker) -> Category | None:
    value = tracker.get_slot("complaint_category")
    try:
        return Category(value) if value else None
    except ValueError:
        return None


def is_correction(text: str) -> bool:
    """A message changing an earlier answer rather than answering the question."""
    if _MONEY.search(text) or contact_from(text):
        return True
    return bool(_CORRECTION.search(text) and categories_in(text))


def parse_amount(text: str) -> float | None:
    """The first amount in `text` ('£1,200.50', '-20', '2k', '3 million'), or None."""
    # Tracking numbers and complaint references are not amounts.
    cleaned = re.sub(
        r"\b[A-Z]{2}[\s-]?\d[\d\s-]{7,12}[A-Z]{2}\b|\bC-\d{2}-\d+\b", " ", text, flags=re.I
    )
    found = _NUMBER.search(cleaned)
    if not found:
        return None
    try:
        value = float(found.group(2).replace(",", ""))
    except ValueError:
        return None
    scale = (found.group(3) or "").lower()
    value *= {"k": 1e3, "million": 1e6, "billion": 1e9}.get(scale, 1.0)
    return -value if found.group(1) else value


def channel_from(text: str) -> CallbackChannel | None:
    lowered = (text or "").lower()
    if _EMAIL.search(lowered) or re.search(r"\b(e-?mail|mail|write)\b", lowered):
        return CallbackChannel.email
    if _PHONE.search(lowered) or re.search(r"\b(phone|call|ring|mobile|telephone)\b", lowered):
        return CallbackChannel.phone
    if re.search(r"\b(chat|here|online|message)\b", lowered):
        return CallbackChannel.chat
    return None


def contact_from(text: str) -> str | None:
    email = _EMAIL.search(text or "")
    if email:
        return email.group(0)
    phone = _PHONE.search(text or "")
    return re.sub(r"[\s-]", "", phone.group(0)) if phone else None


def shipment_of(session: Any, tracker: Tracker) -> Shipment | None:
    number = tracker.get_slot("tracking_number")
    return queries.find_shipment(session, number) if number else None


def reset_complaint_state(offer_human: bool = False) -> list[EventType]:
    """Events ending a complaint form or status look-up, however it ended."""
    return [
        *reset_form_state(offer_human),
        *(SlotSet(slot, None) for slot in COMPLAINT_SLOTS),
        SlotSet("complaint_upset", False),
        SlotSet("complaint_attempts", 0),
    ]


class RequestsOwnSlots:
    """Always names the next slot itself: rasa_sdk leaves it to Rasa when the list of
    required slots happens to equal the domain's, and these forms vary theirs per turn."""

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> EventType | None:
        required = await self.required_slots(  # type: ignore[attr-defined]
            self.domain_slots(domain),  # type: ignore[attr-defined]
            dispatcher,
            tracker,
            domain,
        )
        missing = (slot for slot in required if tracker.slots.get(slot) is None)
        return SlotSet("requested_slot", next(missing, None))


class ValidateComplaintForm(RequestsOwnSlots, ShipmentAccessForm):
    def name(self) -> str:
        return "validate_complaint_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        fresh = is_fresh_message(tracker)
        if is_aside(tracker) and fresh:
            # Not an answer: the form steps aside, a rule answers, then the form asks again.
            return [ActionExecutionRejected("complaint_form")]
        tone = tone_of(latest_text(tracker)) if fresh else Tone.calm
        if tone is Tone.safety:
            logger.info("safety issue raised in a complaint: handing over")
            dispatcher.utter_message(text=SAFETY)
            said = " ".join(latest_text(tracker).split())[: service.MAX_DESCRIPTION_CHARS]
            return [
                SlotSet("blocked_reason", "safety"),
                SlotSet("complaint_description", said),
                SlotSet("requested_slot", None),
            ]
        events = await super().run(dispatcher, tracker, domain)
        if tone is Tone.abusive and not tracker.get_slot("complaint_upset"):
            dispatcher.utter_message(text=COMPLAINT_CALM)
            events.append(SlotSet("complaint_upset", True))
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[str]:
        if tracker.get_slot("blocked_reason"):
            return []
        category = current_category(tracker)
        slots = ["complaint_category"]
        if category is None:
            return slots + ["complaint_description", "callback_channel", "contact_details"]
        if category in PARCEL_CATEGORIES:
            slots.append("tracking_number")
        slots.append("complaint_description")
        if category in CLAIM_CATEGORIES:
            slots += ["claimed_amount", "has_photos"]
        return slots + ["callback_channel", "contact_details"]

    # --- category ------------------------------------------------------------------------

    async def extract_complaint_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if latest_intent(tracker) in INTERRUPTIONS or is_aside(tracker):
            return {}
        current = current_category(tracker)
        if current is None:
            found = category_from(tracker)
            if found is not None:
                return {"complaint_category": found.value}
            if is_answer(tracker, "complaint_category"):
                return {"complaint_category": ""}  # said, but not understood: ask again
            return {}
        # A change of mind: "actually it was lost, not damaged".
        text = latest_text(tracker)
        others = [c for c in categories_in(text) if c != current]
        if len(others) == 1 and _CORRECTION.search(text):
            return {"complaint_category": others[0].value}
        return {}

    def validate_complaint_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            return {"complaint_category": Category(value).value}
        except ValueError:
            dispatcher.utter_message(text=CATEGORY_UNCLEAR)
            return {"complaint_category": None}

    # --- description ---------------------------------------------------------------------

    async def extract_complaint_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        if is_answer(tracker, "complaint_description") or is_story_read_as_off_topic(tracker):
            return {"complaint_description": text}
        if (
            not tracker.get_slot("complaint_description")
            and latest_intent(tracker) not in INTERRUPTIONS
            and not is_aside(tracker)
            and not text.startswith("/")
            and category_from(tracker) is not None
            and len(text.split()) >= DESCRIPTION_FROM_FIRST_MESSAGE_WORDS
        ):
            # The user already told the story while saying what went wrong.
            return {"complaint_description": text}
        return {}

    def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if len(text) > service.MAX_DESCRIPTION_CHARS:
            dispatcher.utter_message(
                text=DESCRIPTION_LONG.format(limit=service.MAX_DESCRIPTION_CHARS)
            )
            return {"complaint_description": None}
        if len(text.split()) < MIN_DESCRIPTION_WORDS:
            dispatcher.utter_message(text=DESCRIPTION_SHORT)
            return {"complaint_description": None}
        return {"complaint_description": text}

    # --- claimed amount ------------------------------------------------------------------

    async def extract_claimed_amount(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        if is_answer(tracker, "claimed_amount"):
            amount = parse_amount(text)
            if amount is None:
                dispatcher.utter_message(text=AMOUNT_UNCLEAR)
            return {"claimed_amount": amount}
        if (
            tracker.get_slot("claimed_amount") is not None
            and _MONEY.search(text)
            and not is_aside(tracker)
        ):
            amount = parse_amount(text)  # a correction: "actually it was £45"
            return {} if amount is None else {"claimed_amount": amount}
        return {}

    def validate_claimed_amount(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            amount = float(value)
        except (TypeError, ValueError):
            return {"claimed_amount": None}
        try:
            with store_session() as session:
                shipment = shipment_of(session, tracker)
                declared = shipment.declared_value if shipment else None
        except StoreError:
            logger.exception("declared value look-up failed")
            declared = None
        problem = service.amount_problem(amount, declared)
        if problem:
            dispatcher.utter_message(text=problem)
            return {"claimed_amount": None}
        return {"claimed_amount": round(amount, 2)}

    # --- photos --------------------------------------------------------------------------

    async def extract_has_photos(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "has_photos":
            return {}
        intent = latest_intent(tracker)
        if intent == "affirm":
            return {"has_photos": True}
        if intent == "deny":  # "no" answers the question; it does not stop the form here
            return {"has_photos": False}
        if intent in INTERRUPTIONS or is_aside(tracker):
            return {}
        text = latest_text(tracker)
        if is_correction(text):
            return {}  # a correction of an earlier answer; the question is asked again
        if _NO.search(text):
            return {"has_photos": False}
        if _YES.search(text):
            return {"has_photos": True}
        dispatcher.utter_message(text=PHOTOS_UNCLEAR)
        return {"has_photos": None}

    # --- callback channel and contact ----------------------------------------------------

    async def extract_callback_channel(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        if is_answer(tracker, "callback_channel"):
            channel = channel_from(text)
            if channel is None:
                dispatcher.utter_message(text=CHANNEL_UNCLEAR)
            return {"callback_channel": channel.value if channel else None}
        contact = None if is_aside(tracker) else contact_from(text)
        if tracker.get_slot("callback_channel") and contact:  # "call me on 07700 900123 instead"
            channel = CallbackChannel.email if "@" in contact else CallbackChannel.phone
            return {"callback_channel": channel.value}
        return {}

    def validate_callback_channel(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            channel = CallbackChannel(value)
        except ValueError:
            return {"callback_channel": None}
        if channel is CallbackChannel.chat:
            return {"callback_channel": channel.value, "contact_details": "chat"}
        given = contact_from(latest_text(tracker))
        if given:
            return {"callback_channel": channel.value, "contact_details": given}
        on_file = None
        number = tracker.get_slot("tracking_number")
        if channel is CallbackChannel.phone and is_verified(tracker, number):
            # Only a proven recipient hears of a number on file, and only the one they proved.
            try:
                with store_session() as session:
                    shipment = shipment_of(session, tracker)
                    on_file = shipment.consignee_phone if shipment else None
            except StoreError:
                logger.exception("consignee look-up failed")
        if on_file:
            masked = "ending " + re.sub(r"\D", "", on_file)[-4:]
            dispatcher.utter_message(text=CONTACT_ON_FILE.format(masked=masked))
            return {"callback_channel": channel.value, "contact_details": on_file}
        return {"callback_channel": channel.value, "contact_details": None}

    async def extract_contact_details(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        contact = contact_from(text)
        if is_answer(tracker, "contact_details"):
            if contact is None:
                dispatcher.utter_message(text=CONTACT_UNCLEAR)
            return {"contact_details": contact}
        if contact and tracker.get_slot("callback_channel") and not is_aside(tracker):
            return {"contact_details": contact}
        return {}


def finish_blocked_complaint(tracker: Tracker) -> list[EventType] | None:
    blocked = tracker.get_slot("blocked_reason")
    if not blocked:
        return None
    return reset_complaint_state(offer_human=blocked in OFFER_HUMAN_AFTER)


class ActionSubmitComplaint(Action):
    """Records the complaint (or adds it to the open one) and says what happens next."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("blocked_reason") == "safety":
            return self.record_urgent(dispatcher, tracker)
        closing = finish_blocked_complaint(tracker)
        if closing is not None:
            return closing
        category = current_category(tracker) or Category.other
        upset = bool(tracker.get_slot("complaint_upset"))
        amount = tracker.get_slot("claimed_amount")
        now = datetime.now(UTC)
        try:
            with store_session() as session:
                shipment = shipment_of(session, tracker)
                if category in PARCEL_CATEGORIES and shipment is None:
                    dispatcher.utter_message(text=messages.NO_NUMBER_FOUND)
                    return reset_complaint_state(offer_human=True)
                filed = service.file_complaint(
                    session,
                    category=category,
                    description=tracker.get_slot("complaint_description") or "",
                    shipment=shipment,
                    claimed_amount=float(amount) if amount is not None else None,
                    has_photos=tracker.get_slot("has_photos"),
                    callback_channel=CallbackChannel(
                        tracker.get_slot("callback_channel") or CallbackChannel.chat
                    ),
                    contact=tracker.get_slot("contact_details") or "",
                    conversation_id=tracker.sender_id,
                    now=now,
                )
                text = self.confirmation(filed, category, now, shipment)
                reference = filed.ticket.reference
                vip = not filed.merged and filed.ticket.tier is Tier.A
        except service.ComplaintError as refused:
            dispatcher.utter_message(text=str(refused))
            return reset_complaint_state(offer_human=True)
        except StoreError:
            logger.exception("filing a complaint failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return reset_complaint_state()
        logger.info("complaint %s %s", reference, "merged" if filed.merged else "filed")
        dispatcher.utter_message(text=text)
        if vip:
            # A-tier customers go to a person straight away (the VIP desk).
            hand_over(dispatcher, tracker, Reason.vip_complaint)
            upset = False  # a person is already on the way: no offer of one
        mentioned = list(tracker.get_slot("complaints_mentioned") or [])
        return [
            *reset_complaint_state(offer_human=upset),
            SlotSet("ticket_id", reference),
            SlotSet("complaints_mentioned", sorted({*mentioned, str(reference)})),
        ]

    @staticmethod
    def record_urgent(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
        """A threat or safety issue: the person is already told to call; the ticket makes sure
        the team sees it first even if they don't."""
        try:
            with store_session() as session:
                filed = service.file_complaint(
                    session,
                    category=current_category(tracker) or Category.other,
                    description=tracker.get_slot("complaint_description") or "(safety issue)",
                    shipment=shipment_of(session, tracker),
                    conversation_id=tracker.sender_id,
                    urgent=True,
                )
                reference = filed.ticket.reference
        except (service.ComplaintError, StoreError):
            logger.exception("recording an urgent complaint failed")
            return reset_complaint_state()
        logger.warning("urgent complaint %s recorded", reference)
        dispatcher.utter_message(text=URGENT_RECORDED.format(reference=reference))
        hand_over(dispatcher, tracker, Reason.threat)
        return [*reset_complaint_state(), SlotSet("ticket_id", reference)]

    @staticmethod
    def confirmation(
        filed: service.Filed, category: Category, now: datetime, shipment: Shipment | None
    ) -> str:
        ticket: ComplaintTicket = filed.ticket
        deadline = sla.deadline_in_words(ticket.sla_due_at, now, carrier_zone())
        if filed.merged:
            return MERGED.format(reference=ticket.reference, deadline=deadline)
        channel = CHANNEL_WORDS[ticket.callback_channel]
        vip = filed.terms is not None and filed.terms.handled_as is Tier.A
        answer = (FILED_VIP if vip else FILED_STANDARD).format(channel=channel, deadline=deadline)
        about = f" about {shipment.tracking_number}" if shipment else ""
        filed_text = FILED.format(reference=ticket.reference, about=about)
        return " ".join([filed_text, answer, NEXT_STEPS[category]])


class ValidateComplaintStatusForm(RequestsOwnSlots, EndsWhenBlocked):
    def name(self) -> str:
        return "validate_complaint_status_form"

    async def extract_ticket_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if latest_intent(tracker) in INTERRUPTIONS:
            return {}
        text = latest_text(tracker)
        reference = service.parse_reference(text)
        if reference:
            return {"ticket_id": reference}
        if is_answer(tracker, "ticket_id"):
            return {"ticket_id": text}
        if tracker.get_slot("ticket_id"):
            return {}
        # "What's happening with my complaint?" in the conversation that filed it.
        try:
            with store_session() as session:
                ticket = service.latest_ticket_of_conversation(session, tracker.sender_id)
                return {"ticket_id": ticket.reference} if ticket else {}
        except StoreError:
            return {}

    def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        reference = service.parse_reference(str(value or ""))
        try:
            with store_session() as session:
                ticket = service.find_ticket(session, reference) if reference else None
                mine = ticket is not None and ticket.conversation_id == tracker.sender_id
        except StoreError:
            logger.exception("ticket look-up failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return {"ticket_id": None, "blocked_reason": "store_down"}
        if ticket is not None:
            update: dict[str, Any] = {"ticket_id": reference, "complaint_attempts": 0}
            if mine:
                update["complaint_proof"] = "verified"
            return update
        if reference:
            dispatcher.utter_message(text=TICKET_UNKNOWN.format(reference=reference))
        else:
            dispatcher.utter_message(text=TICKET_UNCLEAR)
        attempts = int(tracker.get_slot("complaint_attempts") or 0) + 1
        if attempts >= MAX_TICKET_ATTEMPTS:
            dispatcher.utter_message(text=TICKET_STILL_UNKNOWN)
            return {"ticket_id": None, "complaint_attempts": 0, "blocked_reason": "unknown"}
        return {"ticket_id": None, "complaint_attempts": attempts}

    async def extract_complaint_proof(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if tracker.get_slot("complaint_proof") == "verified":
            return {}
        reference = tracker.get_slot("ticket_id")
        if reference and not is_answer(tracker, "complaint_proof"):
            try:  # a ticket this conversation filed needs no proof
                with store_session() as session:
                    ticket = service.find_ticket(session, reference)
                    if ticket is not None and ticket.conversation_id == tracker.sender_id:
                        return {"complaint_proof": "verified"}
            except StoreError:
                return {}
            return {}
        if is_answer(tracker, "complaint_proof"):
            return {"complaint_proof": latest_text(tracker)}
        return {}

    def validate_complaint_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> dict[str, Any]:
        if value == "verified" and not is_answer(tracker, "complaint_proof"):
            return {"complaint_proof": "verified"}
        reference = tracker.get_slot("ticket_id")
        try:
            with store_session() as session:
                ticket = service.find_ticket(session, reference or "")
                allowed = ticket is not None and service.can_view(
                    session, ticket, tracker.sender_id, str(value or "")
                )
        except StoreError:
            logger.exception("proof check failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return {"complaint_proof": None, "blocked_reason": "store_down"}
        if allowed:
            logger.info("complaint proof accepted")
            return {"complaint_proof": "verified", "complaint_attempts": 0}
        attempts = int(tracker.get_slot("complaint_attempts") or 0) + 1
        left = MAX_PROOF_ATTEMPTS - attempts
        if left <= 0:
            dispatcher.utter_message(text=PROOF_LOCKED)
            return {"complaint_proof": None, "blocked_reason": "locked"}
        dispatcher.utter_message(
            text=PROOF_MISMATCH.format(left=left, plural="" if left == 1 else "s")
        )
        return {"complaint_proof": None, "complaint_attempts": attempts}


class ActionComplaintStatus(Action):
    """Status, last update, owner and time left to the SLA, for a proven right to see them."""

    def name(self) -> str:
        return "action_complaint_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        reference = tracker.get_slot("ticket_id")
        closing = finish_blocked_complaint(tracker)
        if closing is not None:
            return [*closing, SlotSet("ticket_id", None)]
        if tracker.get_slot("complaint_proof") != "verified" or not reference:
            # Defence in depth: the form guarantees this, the action checks it again.
            return [*reset_complaint_state(), SlotSet("ticket_id", None)]
        try:
            with store_session() as session:
                ticket = service.find_ticket(session, reference)
                if ticket is None:
                    dispatcher.utter_message(text=TICKET_UNKNOWN.format(reference=reference))
                    return reset_complaint_state(offer_human=True)
                text = service.status_report(session, ticket)
        except StoreError:
            logger.exception("complaint status look-up failed")
            dispatcher.utter_message(text=messages.STORE_DOWN)
            return reset_complaint_state()
        dispatcher.utter_message(text=text)
        return reset_complaint_state()


class ActionStopComplaint(Action):
    """Runs after a complaint form or status look-up is cancelled."""

    def name(self) -> str:
        return "action_stop_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if latest_intent(tracker) == "deny":
            dispatcher.utter_message(text=messages.STOPPED)
        return reset_complaint_state()
