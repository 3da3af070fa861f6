"""A guess offered, never acted on: "did you mean …?" for a message the NLU was unsure of.

Below the FallbackClassifier's threshold nothing starts, so an off-topic message never opens a
form. But many in-scope messages land there too ("the postcode on LP… is wrong, make it BS8
1TH"), and their best reading is usually right. When that reading is a parcel task, the
shipper gets the task as one button, with the parcel number or ticket id already filled in:
one click instead of a rephrase, and still nothing done without the shipper saying so.
"""

from __future__ import annotations

import json
from typing import Any

FALLBACK_INTENT = "nlu_fallback"
# The best reading must be at least this sure to be offered (held-out figures in
# assistant/README.md, "Did you mean"): below it the guesses are mostly wrong or off-topic.
SUGGEST_FLOOR = 0.4

# Task button titles, with and without the parcel number the message named.
_PARCEL_TASKS: dict[str, tuple[str, str]] = {
    "track_shipment": ("Track {number}", "Track a parcel"),
    "show_delivery_details": (
        "See the delivery details of {number}",
        "See a parcel's delivery details",
    ),
    "change_delivery_address": (
        "Change the delivery address of {number}",
        "Change a delivery address",
    ),
    "file_complaint": ("Make a complaint about {number}", "Make a complaint or claim"),
}
_OTHER_TASKS: dict[str, str] = {
    "complaint_status": "Check on a complaint",
    "give_feedback": "Give feedback on a delivery",
    "human_handoff": "Talk to a person",
}
# A bare number read as `inform` outside a form starts a look-up, so it is offered as one.
_INFORM = "inform"


def best_reading(latest_message: dict[str, Any]) -> tuple[str, float] | None:
    """The classifier's own top intent when the FallbackClassifier overruled it, else None."""
    if (latest_message.get("intent") or {}).get("name") != FALLBACK_INTENT:
        return None
    ranking = [
        r for r in latest_message.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT
    ]
    if not ranking:
        return None
    return str(ranking[0]["name"]), float(ranking[0].get("confidence") or 0.0)


def suggested_intent(intent: str, confidence: float, has_number: bool) -> str | None:
    """The task to offer for a best reading, if it is one worth offering."""
    if confidence < SUGGEST_FLOOR:
        return None
    if intent == _INFORM:
        return "track_shipment" if has_number else None
    return intent if intent in _PARCEL_TASKS or intent in _OTHER_TASKS else None


def suggestion(
    latest_message: dict[str, Any], number: str | None, ticket: str | None = None
) -> dict[str, str] | None:
    """A button for what the shipper probably meant, or None when there is no good guess."""
    reading = best_reading(latest_message)
    if reading is None:
        return None
    intent = suggested_intent(*reading, has_number=number is not None)
    if intent is None:
        return None
    if intent in _PARCEL_TASKS:
        with_number, without = _PARCEL_TASKS[intent]
        if number:
            entity = json.dumps({"tracking_number": number})
            return {"title": with_number.format(number=number), "payload": f"/{intent}{entity}"}
        return {"title": without, "payload": f"/{intent}"}
    if intent == "complaint_status" and ticket:
        entity = json.dumps({"ticket_id": ticket})
        return {"title": f"Check on complaint {ticket}", "payload": f"/{intent}{entity}"}
    return {"title": _OTHER_TASKS[intent], "payload": f"/{intent}"}
