"""The chat endpoints the widget talks to: a WebSocket, with HTTP POST and polling as fallback.

Both paths take a customer message through `answer`: cleaning, the rate limits, the size
limit, then the gateway's turn. The conversation id is the customer's bearer secret (random,
kept in the browser); no endpoint lists conversations to shippers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import Message
from starlette.websockets import WebSocketState

from backend.api.conversation_bus import BusUnavailable
from backend.api.customer_input import (
    SURVEY_LINK_TITLE,
    Utterance,
    clean_message,
    is_blank,
    survey_link_payload,
    utterance,
)
from backend.api.rasa_gateway import RasaGateway, public
from backend.api.rate_limit import Limiter, rate_limited_reply
from backend.api.routes import MAX_ROW_ID, GatewayDep, SessionDep, SettingsDep
from backend.api.schemas import (
    CONVERSATION_ID_PATTERN,
    SURVEY_TOKEN_PATTERN,
    BotMessage,
    Button,
    ChatHistory,
    ChatMessagePublic,
    ChatRequest,
    ChatResponse,
    PendingMessages,
)
from backend.config import Settings
from backend.conversations.service import conversation_history, offered_buttons
from backend.handoff import chat_hook
from backend.tone import CALM_BUTTONS, CALM_REPLY


class _Utf8Request(Request):
    """A request whose body is read as UTF-8 with U+FFFD for invalid bytes: no browser sends
    them, and whoever does gets an answer about what could be read, not a parse error."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            raw = await super().body()
            self._body = raw.decode("utf-8", "replace").encode()
        return self._body


class _Utf8Route(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def lenient(request: Request) -> Response:
            return await handler(_Utf8Request(request.scope, request.receive))

        return lenient


router = APIRouter(prefix="/api/chat", tags=["chat"], route_class=_Utf8Route)
logger = logging.getLogger("backend.api.chat")

_CONVERSATION_ID = re.compile(CONVERSATION_ID_PATTERN)
# Close code for a socket whose conversation id is refused: the widget starts a new one.
POLICY_VIOLATION = 1008
HISTORY_LIMIT = 200
T = TypeVar("T")


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


def _offered(gateway: RasaGateway, conversation_id: str) -> list[dict[str, Any]]:
    if gateway.engine is None:
        return []
    try:
        with Session(gateway.engine) as session:
            return offered_buttons(session, conversation_id)
    except SQLAlchemyError as exc:
        # Unverifiable is not offered: the click still goes, as its title in plain text.
        logger.error("offered buttons unreadable conversation=%s: %s", conversation_id, exc)
        return []


async def _utterance(
    gateway: RasaGateway,
    conversation_id: str,
    message: str,
    payload: str | None,
    survey_token: str | None,
) -> Utterance:
    if survey_token is not None:
        return Utterance(
            survey_link_payload(survey_token), clean_message(message) or SURVEY_LINK_TITLE
        )
    if payload is None and not message.lstrip().startswith("/"):
        return utterance(message, None, [])  # typed text: no need to read the offers
    # With the store down nothing counts as offered: a click goes as its title's words.
    offered = await _from_store([], _offered, gateway, conversation_id)
    return utterance(message, payload, offered)


async def answer(
    raw: str,
    conversation_id: str,
    client_ip: str | None,
    gateway: RasaGateway,
    limiter: Limiter,
    settings: Settings,
    payload: str | None = None,
    survey_token: str | None = None,
) -> Answer:
    """One customer message from either transport, through the limits to the assistant:
    `raw` is what they typed or the title of the button they chose (`payload`), or the
    opening words of a survey link (`survey_token`)."""
    if not await limiter.allow(conversation_id, client_ip):
        logger.info("rate limited conversation=%s ip=%s", conversation_id, client_ip)
        return Answer(None, [_notice(rate_limited_reply())])
    # Far over the limit: refused before the work of cleaning it.
    if len(raw) > 2 * settings.max_message_chars:
        return Answer(None, [_notice(too_long_reply(settings))])
    if payload is not None and len(payload) > 2 * settings.max_message_chars:
        payload = ""  # longer than any button the bot offers: not a click
    said = await _utterance(gateway, conversation_id, raw, payload, survey_token)
    text = said.shown
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
    turn = await gateway.turn(conversation_id, said.to_rasa, shown=text)
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
        "address, are answered here with a polite notice without reaching the assistant. "
        "A quick reply is sent as `message` (its title, kept in the transcript) and "
        "`payload`; the payload reaches the assistant only when it is exactly one the "
        "assistant offered in its latest messages of this conversation. Anything else, "
        'typed `/intent{"entity": ...}` text included, reaches it as plain text with leading '
        "slashes removed, so no intent or slot value can be set from outside. "
        "`survey_token` starts the survey of a survey link. When the assistant cannot "
        "answer, `messages` holds one apology with the support phone number."
    ),
)
async def post_chat(
    body: ChatRequest, request: Request, gateway: GatewayDep, settings: SettingsDep
) -> ChatResponse:
    conversation_id = body.conversation_id or new_conversation_id()
    client_ip = request.client.host if request.client else None
    result = await answer(
        body.message,
        conversation_id,
        client_ip,
        gateway,
        get_limiter(request),
        settings,
        payload=body.payload,
        survey_token=body.survey_token,
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
    after: Annotated[int, Query(ge=0, le=MAX_ROW_ID)] = 0,
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
    payload: str | None = None  # as ChatRequest: a quick reply's payload, `text` its title
    survey_token: str | None = Field(default=None, pattern=SURVEY_TOKEN_PATTERN)


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
    """JSON frames both ways. In: `{"type": "message", "text": ..., "ref": ...}` (plus
    `payload` for a quick reply, `text` being its title, or `survey_token` for a survey link)
    and `{"type": "ping"}`. Out: `ready` (the conversation id), `reply` (the answers to the message
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
        after = min(max(after, 0), MAX_ROW_ID)
        missed = await asyncio.to_thread(_read_history, websocket, conversation_id, after)
        await socket.send_messages("push", missed)
        pusher = asyncio.create_task(_push_forever(socket, queue))
        while True:
            frame = _decode(await websocket.receive())
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


def _decode(message: Message) -> Any:
    """The JSON of a text or binary frame; None when it is neither UTF-8 nor JSON (answered with
    a polite error frame, and the socket stays open)."""
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    raw: str | bytes | None = message.get("text")
    if raw is None:
        raw = message.get("bytes") or b""
    try:
        return json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        return None


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
        message.text,
        conversation_id,
        client_ip,
        gateway,
        state.rate_limiter,
        settings,
        payload=message.payload,
        survey_token=message.survey_token,
    )
    await socket.send_messages(
        "reply", result.messages, ref=message.ref, customer_message_id=result.customer_message_id
    )
