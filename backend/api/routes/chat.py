"""The chat endpoints the widget talks to: a WebSocket, with HTTP POST and polling as fallback.

Both paths take a customer message through `answer`: cleaning, the rate limits, the size
limit, then the gateway's turn. The conversation id is the customer's bearer secret (random,
kept in the browser); no endpoint lists conversations to shippers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketState

from backend.api.conversation_bus import BusUnavailable
from backend.api.rasa_gateway import RasaGateway, public
from backend.api.rate_limit import Limiter, rate_limited_reply
from backend.api.routes import GatewayDep, SessionDep, SettingsDep
from backend.api.schemas import (
    CONVERSATION_ID_PATTERN,
    BotMessage,
    Button,
    ChatHistory,
    ChatMessagePublic,
    ChatRequest,
    ChatResponse,
    PendingMessages,
)
from backend.config import Settings
from backend.conversations.service import conversation_history
from backend.handoff import chat_hook
from backend.tone import CALM_BUTTONS, CALM_REPLY

router = APIRouter(prefix="/api/chat", tags=["chat"])
logger = logging.getLogger("backend.api.chat")

_CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)
# Close code for a socket whose conversation id is refused: the widget starts a new one.
POLICY_VIOLATION = 1008
HISTORY_LIMIT = 200
T = TypeVar("T")

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


def new_conversation_id() -> str:
    # 32 hex characters (128 bits): the id is the only key to the transcript, so never guessable.
    return secrets.token_hex(16)


@dataclass
class Answer:
    customer_message_id: int | None
    messages: list[ChatMessagePublic]


def _notice(message: BotMessage) -> ChatMessagePublic:
    # Said by the gateway itself and not recorded: it is no turn of the conversation.
    return ChatMessagePublic(text=message.text, sender="bot")


async def answer(
    raw: str,
    conversation_id: str,
    client_ip: str | None,
    gateway: RasaGateway,
    limiter: Limiter,
    settings: Settings,
) -> Answer:
    """One customer message from either transport, through the limits to the assistant."""
    if not await limiter.allow(conversation_id, client_ip):
        logger.info("rate limited conversation=%s ip=%s", conversation_id, client_ip)
        return Answer(None, [_notice(rate_limited_reply())])
    # Far over the limit: refused before the work of cleaning it.
    if len(raw) > 2 * settings.max_message_chars:
        return Answer(None, [_notice(too_long_reply(settings))])
    text = clean_message(raw)
    if is_blank(text):
        return Answer(None, [_notice(empty_message_reply())])
    if len(text) > settings.max_message_chars:
        return Answer(None, [_notice(too_long_reply(settings))])
    if await _from_store(False, chat_hook.agent_holds, gateway.engine, conversation_id):
        # An agent has the conversation: their console shows the message; the bot stays quiet.
        customer = await run_in_threadpool(
            gateway.record, conversation_id, BotMessage(text=text), "customer"
        )
        return Answer(customer.id, [])
    turn = await gateway.turn(conversation_id, text)
    messages = list(turn.messages)
    if chat_hook.is_threat(text):
        slots = await gateway.conversation_slots(conversation_id) or {}
        number = str(slots.get("tracking_number") or "") or None
        notice = await _from_store(
            None, chat_hook.threat_handoff, gateway.engine, settings, conversation_id, text, number
        )
        if notice:
            messages.append(
                await run_in_threadpool(
                    gateway.record, conversation_id, BotMessage(text=notice), "bot"
                )
            )
    elif await _from_store(
        False,
        chat_hook.needs_calming,
        gateway.engine,
        conversation_id,
        text,
        " ".join(m.text or "" for m in messages),
    ):
        calm = BotMessage(text=CALM_REPLY, buttons=[Button(**b) for b in CALM_BUTTONS])
        messages.append(await run_in_threadpool(gateway.record, conversation_id, calm, "bot"))
    return Answer(turn.customer.id, messages)


async def _from_store(unavailable: T, check: Callable[..., T], *args: Any) -> T:
    """A handoff check that reads the store, run in the thread pool; `unavailable` when the
    store fails. With the store down the turn still goes to the assistant, which answers what it
    can and apologises for the rest, rather than the whole message failing with a 503."""
    try:
        return await run_in_threadpool(check, *args)
    except SQLAlchemyError as exc:
        logger.error("%s skipped, store unavailable: %s", check.__name__, type(exc).__name__)
        return unavailable


def get_limiter(request: Request) -> Limiter:
    return request.app.state.rate_limiter


@router.post(
    "",
    response_model=ChatResponse,
    summary="Send one customer message and get the assistant's answer",
    description=(
        "The fallback of the WebSocket `/api/chat/ws`. Starts a conversation when "
        "`conversation_id` is omitted (the answer carries the new id). The message is cleaned "
        "(Unicode NFC, control characters removed, blanks stripped); empty or over-long "
        "messages, and messages over the per-minute limits of the conversation or the client "
        "address, are answered here with a polite notice without reaching the assistant. A "
        'message shaped like a button payload (`/intent` or `/intent{"entity": "value"}`) '
        "is passed on as one. When the assistant cannot answer, `messages` holds one apology "
        "with the support phone number."
    ),
)
async def post_chat(
    body: ChatRequest, request: Request, gateway: GatewayDep, settings: SettingsDep
) -> ChatResponse:
    conversation_id = body.conversation_id or new_conversation_id()
    client_ip = request.client.host if request.client else None
    result = await answer(
        body.message, conversation_id, client_ip, gateway, get_limiter(request), settings
    )
    return ChatResponse(
        conversation_id=conversation_id,
        customer_message_id=result.customer_message_id,
        messages=result.messages,
    )


ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN)]


@router.get(
    "/{conversation_id}/messages",
    response_model=PendingMessages,
    summary="Collect messages the assistant or an agent sent on their own",
    description=(
        "Returns, and forgets, the messages that arrived for this conversation outside a "
        "customer turn while no WebSocket of it was open (e.g. a post-delivery survey, an "
        "agent's reply). The widget polls this when it cannot keep a WebSocket open."
    ),
)
async def get_pending(conversation_id: ConversationId, gateway: GatewayDep) -> PendingMessages:
    return PendingMessages(
        conversation_id=conversation_id, messages=await gateway.take_pending(conversation_id)
    )


@router.get(
    "/{conversation_id}/history",
    response_model=ChatHistory,
    summary="The conversation's transcript, to restore the widget after a reload",
    description=(
        "The last 200 messages (customer, assistant, agent), oldest first; with `after`, only "
        "those with a larger id. Anyone holding the conversation id may read it, so the widget "
        "keeps the id like a password."
    ),
)
def get_history(
    conversation_id: ConversationId,
    session: SessionDep,
    after: Annotated[int, Query(ge=0)] = 0,
) -> ChatHistory:
    rows = conversation_history(session, conversation_id, HISTORY_LIMIT, after_id=after)
    return ChatHistory(conversation_id=conversation_id, messages=[public(r) for r in rows])


# ------------------------------------------------------------------ WebSocket


def _frame(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def _dump(messages: list[ChatMessagePublic]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in messages]


def _read_history(websocket: WebSocket, conversation_id: str, after: int) -> list[Any]:
    try:
        with Session(websocket.app.state.engine) as session:
            rows = conversation_history(session, conversation_id, HISTORY_LIMIT, after_id=after)
            return [public(r) for r in rows]
    except SQLAlchemyError as exc:
        # The chat still works without the transcript; messages queued in memory still come.
        logger.error("history unreadable conversation=%s: %s", conversation_id, exc)
        return []


class _Incoming(BaseModel):
    type: Literal["message"]
    text: str
    ref: str | int | None = None


class _Socket:
    """One widget connection: frames are sent by one writer at a time, each message once
    (a message queued for the conversation may also be in the transcript read on connect)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()
        self._sent: set[int] = set()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_json(frame)

    async def send_messages(
        self, kind: str, messages: list[ChatMessagePublic], **extra: Any
    ) -> None:
        fresh = [m for m in messages if m.id is None or m.id not in self._sent]
        self._sent.update(m.id for m in fresh if m.id is not None)
        if fresh or extra:
            await self.send(_frame(kind, messages=_dump(fresh), **extra))


@router.websocket("/ws")
async def chat_socket(
    websocket: WebSocket,
    conversation_id: str | None = None,
    after: int = 0,
) -> None:
    """JSON frames both ways. In: `{"type": "message", "text": ..., "ref": ...}` and
    `{"type": "ping"}`. Out: `ready` (the conversation id), `reply` (the answers to the message
    with that `ref`, with `customer_message_id`), `push` (messages the customer did not ask
    for, and on connect those after `after` in the transcript), `pong` and `error`."""
    await websocket.accept()
    if conversation_id is None:
        conversation_id = new_conversation_id()
    elif not _CONVERSATION_ID.fullmatch(conversation_id):
        await websocket.send_json(_frame("error", detail="Unknown conversation."))
        await websocket.close(POLICY_VIOLATION)
        return
    state = websocket.app.state
    gateway: RasaGateway = state.gateway
    settings: Settings = state.settings
    client_ip = websocket.client.host if websocket.client else None
    socket = _Socket(websocket)
    pusher: asyncio.Task[None] | None = None
    queue: asyncio.Queue[ChatMessagePublic] | None = None
    try:
        queue = await gateway.subscribe(conversation_id)
        logger.info("socket opened conversation=%s", conversation_id)
        await socket.send(_frame("ready", conversation_id=conversation_id))
        # What the widget missed while disconnected (recorded, so it survives a restart too).
        missed = await asyncio.to_thread(_read_history, websocket, conversation_id, max(after, 0))
        await socket.send_messages("push", missed)
        pusher = asyncio.create_task(_push_forever(socket, queue))
        while True:
            frame = await websocket.receive_json()
            await _handle(frame, socket, conversation_id, client_ip, gateway, state, settings)
    except WebSocketDisconnect:
        pass
    except (ValueError, RuntimeError) as exc:
        # Not JSON, the socket went away mid-send, or no delivery to it (BusUnavailable): end
        # this connection; the widget reconnects and asks for what it missed.
        logger.info("socket closed conversation=%s: %s", conversation_id, exc)
    finally:
        if pusher is not None:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
        if queue is not None:
            with contextlib.suppress(BusUnavailable):
                await gateway.unsubscribe(conversation_id, queue)
        if websocket.client_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError):
                await websocket.close()


async def _push_forever(socket: _Socket, queue: asyncio.Queue[ChatMessagePublic]) -> None:
    while True:
        message = await queue.get()
        try:
            await socket.send_messages("push", [message])
        except (RuntimeError, WebSocketDisconnect):
            return


async def _handle(
    frame: Any,
    socket: _Socket,
    conversation_id: str,
    client_ip: str | None,
    gateway: RasaGateway,
    state: Any,
    settings: Settings,
) -> None:
    kind = frame.get("type") if isinstance(frame, dict) else None
    if kind == "ping":
        with contextlib.suppress(BusUnavailable):
            await gateway.touch(conversation_id)
        await socket.send(_frame("pong"))
        return
    try:
        message = _Incoming.model_validate(frame)
    except ValidationError:
        await socket.send(
            _frame("error", detail="I couldn't read that message; please send it again.")
        )
        return
    result = await answer(
        message.text, conversation_id, client_ip, gateway, state.rate_limiter, settings
    )
    await socket.send_messages(
        "reply", result.messages, ref=message.ref, customer_message_id=result.customer_message_id
    )
