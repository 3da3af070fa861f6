"""What of a customer's message reaches Rasa, and what the transcript shows as their words.

Rasa 3.6 reads a message whose text (after `str.strip()`) starts with "/" as
`/intent{"entity": value}` and skips its NLU (`RegexMessageHandler`): that is how button
payloads work, and it would let anyone who can type set any intent and slot. So a payload reaches
Rasa only when it is exactly one of the quick replies the bot offered in this conversation's
latest messages (as the transcript recorded them), and the transcript then shows that button's
title. Everything else — typed text, a forged or stale payload, a payload with entities the bot
did not offer — goes as plain text that never starts with a slash. The one payload the gateway
writes itself is a survey link's (`survey_link_payload`): its token is a bearer secret the
survey action looks up, as the SMS link promises.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from backend.api.schemas import SURVEY_TOKEN_PATTERN

SURVEY_LINK_TITLE = "I'd like to give feedback"
SURVEY_LINK_INTENT = "give_feedback"

# Control characters other than tab and newline, and lone surrogates (which cannot be encoded).
_DROPPED_CATEGORIES = {"Cc", "Cs"}
_KEPT_CONTROLS = {"\n", "\t"}
# Characters that carry nothing on their own: separators, format characters (zero-width space,
# direction marks), controls.
_BLANK_CATEGORIES = {"Zs", "Zl", "Zp", "Cf", "Cc"}
# Rasa tests only "/", but a slash look-alike at the start says nothing either, and a future
# normalisation (NFKC folds "／" to "/") must not turn it into an intent.
_SLASHES = frozenset("/\uff0f\u2044\u2215\u29f8\u2571\u27cb")
_SURVEY_TOKEN = re.compile(SURVEY_TOKEN_PATTERN)


@dataclass(frozen=True)
class Utterance:
    """One customer message: `to_rasa` is posted to Rasa, `shown` is recorded and shown."""

    to_rasa: str
    shown: str


def is_blank(text: str) -> bool:
    return all(unicodedata.category(ch) in _BLANK_CATEGORIES for ch in text)


def clean_message(raw: str) -> str:
    """NFC-normalise, drop control characters except tab/newline, and strip blanks and slashes
    from the start (and blanks from the end), so the text never reads as a payload."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        ch
        for ch in text
        if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    start = 0
    while start < len(text) and (
        text[start] in _SLASHES or text[start].isspace() or is_blank(text[start])
    ):
        start += 1
    end = len(text)
    while end > start and (text[end - 1].isspace() or is_blank(text[end - 1])):
        end -= 1
    return text[start:end]


def offered_payload(candidate: str, offered: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The offered button whose payload is exactly `candidate` (no normalisation: the widget
    sends back the string it was given), or None."""
    if not candidate:
        return None
    for button in offered:
        if button.get("payload") == candidate:
            return button
    return None


def utterance(message: str, payload: str | None, offered: Iterable[dict[str, Any]]) -> Utterance:
    """A button click (`payload`) when it was offered, else the typed `message` as plain text.

    An older widget sends a click as the payload in `message`: a message starting with "/"
    that is exactly an offered payload is that click (it gains nothing a click would not)."""
    offered = list(offered)
    if payload is None and message.strip().startswith("/"):
        payload = message.strip()
    button = offered_payload(payload, offered) if payload is not None else None
    if button is not None:
        title = clean_message(str(button.get("title") or "")) or clean_message(message)
        return Utterance(to_rasa=str(button["payload"]), shown=title)
    # Not offered: the customer's words, or (sent with no words) the payload as plain text.
    text = clean_message(message)
    if is_blank(text) and payload:
        text = clean_message(payload)
    return Utterance(to_rasa=text, shown=text)


def is_survey_token(token: str) -> bool:
    return bool(_SURVEY_TOKEN.fullmatch(token))


def survey_link_payload(token: str) -> str:
    """What a survey link says to Rasa: the survey action checks the token exists and is open."""
    if not is_survey_token(token):
        raise ValueError("not a survey token")
    return f"/{SURVEY_LINK_INTENT}" + json.dumps({"survey_token": token})
