"""The chat endpoints the widget talks to."""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from actions.tone import Tone, tone_of
from backend.api.routes import EngineDep, GatewayDep, SettingsDep
from backend.api.schemas import (
    CONVERSATION_ID_PATTERN,
    BotMessage,
    ChatRequest,
    ChatResponse,
    PendingMessages,
)
from backend.config import Settings
from backend.handoff import chat_hook

router = APIRouter(prefix="/api/chat", tags=["chat"])

# A message starting with "/" is how Rasa receives a button payload (intent plus optional
# entities as JSON). Typed by hand, it reaches Rasa the same way only when it has exactly that
# shape; anything else starting with "/" (a path, a smiley) loses its leading slashes and goes
# as plain text, so Rasa never tries to read it as an intent. Payloads are not checked against
# the buttons the bot offered: a customer typing "/affirm" can say no more than typing "yes".
INTENT_PAYLOAD = re.compile(r"/[a-z_]+(\{.*\})?")

# Control characters other than tab and newline, and lone surrogates (which cannot be encoded).
_DROPPED_CATEGORIES = {"Cc", "Cs"}
_KEPT_CONTROLS = {"\n", "\t"}
# Characters that carry nothing on their own: separators, format characters (zero-width space).
_BLANK_CATEGORIES = {"Zs", "Zl", "Zp", "Cf", "Cc"}


def clean_message(raw: str) -> str:
    """NFC-normalise, drop control characters except tab/newline, strip surrounding blanks."""
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        ch
        for ch in text
        if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    text = text.strip()
    if text.startswith("/") and not INTENT_PAYLOAD.fullmatch(text):
        text = text.lstrip("/").strip()
    return text


def is_blank(text: str) -> bool:
    return all(unicodedata.category(ch) in _BLANK_CATEGORIES for ch in text)


def empty_message_reply() -> BotMessage:
    return BotMessage(
        text="I didn't catch anything there — you can ask me e.g. "
        "'where is my parcel LP…' followed by your tracking number."
    )


def too_long_reply(settings: Settings) -> BotMessage:
    return BotMessage(
        text=f"That message is a bit long for me — please keep it under "
        f"{settings.max_message_chars} characters and send it again, perhaps in parts."
    )


@router.post(
    "",
    response_model=ChatResponse,
    summary="Send one customer message and get the assistant's answer",
    description=(
        "Starts a conversation when `conversation_id` is omitted (the answer carries the new "
        "id). The message is cleaned (Unicode NFC, control characters removed, blanks "
        "stripped); empty or over-long messages are answered here without reaching the "
        "assistant. A message shaped like a button payload (`/intent` or "
        '`/intent{"entity": "value"}`) is passed on as one. When the assistant cannot '
        "answer, `messages` holds one apology with the support phone number."
    ),
)
async def post_chat(
    body: ChatRequest, gateway: GatewayDep, settings: SettingsDep, engine: EngineDep
) -> ChatResponse:
    conversation_id = body.conversation_id or uuid.uuid4().hex
    text = clean_message(body.message)
    if is_blank(text):
        messages = [empty_message_reply()]
    elif len(text) > settings.max_message_chars:
        messages = [too_long_reply(settings)]
    else:
        # Handoff: while an agent has the conversation, the bot is not asked (see chat_hook).
        held = await run_in_threadpool(chat_hook.before_turn, engine, conversation_id, text)
        if held is not None:
            return ChatResponse(conversation_id=conversation_id, messages=held)
        messages = await gateway.send(conversation_id, text)
        number = None
        if tone_of(text) is Tone.safety:
            slots = await gateway.conversation_slots(conversation_id) or {}
            number = str(slots.get("tracking_number") or "") or None
        messages += await run_in_threadpool(
            chat_hook.after_turn, engine, settings, conversation_id, text, messages, number
        )
    return ChatResponse(conversation_id=conversation_id, messages=messages)


ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN)]


@router.get(
    "/{conversation_id}/messages",
    response_model=PendingMessages,
    summary="Collect messages the assistant sent on its own",
    description=(
        "Returns, and forgets, the messages that arrived for this conversation outside a "
        "customer turn (e.g. a post-delivery survey). The widget polls this every few seconds."
    ),
)
async def get_pending(conversation_id: ConversationId, gateway: GatewayDep) -> PendingMessages:
    return PendingMessages(
        conversation_id=conversation_id, messages=gateway.take_pending(conversation_id)
    )
