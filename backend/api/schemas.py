"""Request and response models of the public HTTP API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONVERSATION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
# A survey link's token (`/?survey=<token>`), as backend.surveys issues them.
SURVEY_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class Button(BaseModel):
    """A quick reply: show `title`, send `payload` when chosen."""

    title: str
    payload: str = ""


class BotMessage(BaseModel):
    """One message of the assistant, as Rasa's callback channel delivers it."""

    # Rasa adds keys such as recipient_id or attachment; keep only what the widget shows.
    model_config = ConfigDict(extra="ignore")

    text: str | None = None
    buttons: list[Button] = Field(default_factory=list)
    image: str | None = None
    # Rasa passes `json_message` through untouched, so any JSON value may arrive.
    custom: Any = None


class ChatMessagePublic(BotMessage):
    """A message as the widget shows it: who said it, when, and its place in the transcript."""

    id: int | None = Field(
        default=None, description="Transcript id (None when it could not be recorded)."
    )
    sender: Literal["customer", "bot", "agent", "system"] = "bot"
    created_at: datetime | None = None
    agent_name: str | None = None


class RasaCallbackMessage(BotMessage):
    """What Rasa's `callback` output channel POSTs for each bot message."""

    recipient_id: str


class ChatRequest(BaseModel):
    conversation_id: str | None = Field(
        default=None,
        pattern=CONVERSATION_ID_PATTERN,
        description="Omit on the first message; reuse the id the answer returns afterwards.",
        examples=["3f2b9c0e6d1a4b5c8e7f9a0b1c2d3e4f"],
    )
    message: str = Field(
        description="What the customer typed, or the title of the quick reply they chose."
    )
    payload: str | None = Field(
        default=None,
        description="The payload of the quick reply chosen. Passed to the assistant only when "
        "it is exactly one the assistant offered in its latest messages of this conversation; "
        "otherwise `message` goes as plain text.",
        examples=["/affirm"],
    )
    survey_token: str | None = Field(
        default=None,
        pattern=SURVEY_TOKEN_PATTERN,
        description="The token of a survey link (`/?survey=<token>`): starts that survey.",
    )


class ChatResponse(BaseModel):
    conversation_id: str
    customer_message_id: int | None = Field(
        default=None, description="Transcript id of the customer's message, once recorded."
    )
    messages: list[ChatMessagePublic]


class PendingMessages(BaseModel):
    conversation_id: str
    messages: list[ChatMessagePublic]


class ChatHistory(BaseModel):
    conversation_id: str
    messages: list[ChatMessagePublic] = Field(description="Oldest first.")


class TrackingEventPublic(BaseModel):
    time: datetime
    location: str
    code: str = Field(description="Scan code, e.g. AR (arrived at a facility), DL (delivered).")
    description: str


class ShipmentPublic(BaseModel):
    """The public tracking view: what anyone holding the number may see, no consignee data."""

    tracking_number: str
    status: str = Field(description="Machine-readable status, e.g. `in_transit`.")
    status_text: str = Field(description="The status in words, e.g. 'on its way'.")
    summary: str = Field(description="The parcel in a sentence or two, as the assistant says it.")
    last_scan_place: str | None
    last_scan_time: datetime | None
    eta: date | None = Field(description="Expected delivery day (UK), while still on its way.")
    delivered_at: datetime | None
    days_late: int
    events: list[TrackingEventPublic] = Field(description="Scans, oldest first.")


class Problem(BaseModel):
    detail: str


def refusal(description: str) -> dict[str, Any]:
    """An error response for a route's `responses=`: a `Problem` with this meaning."""
    return {"model": Problem, "description": description}


class DependencyCheck(BaseModel):
    ok: bool
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, DependencyCheck]
