"""The conversation gateway: a user turn goes in, the bot's messages come out.

Rasa's `callback` input channel answers the webhook only after the whole turn has run, and during
the turn POSTs every bot message to the callback URL from credentials.yml (our
`/rasa/callback/{secret}` route), awaiting each POST before the next. So a turn registers a
collector for its conversation, posts the text, and when the webhook returns the collector holds
every message of the turn, in order. Messages for a conversation with no turn running (proactive
messages, the late end of a turn that timed out, an agent's reply given to `push`) go at once to
the conversation's open WebSockets, or else wait in a per-conversation queue until the widget
polls or reconnects.

Every customer message and every message shown to the customer is recorded in the transcript
(backend.conversations) when the gateway has a database engine.

With several Rasa servers (RASA_SERVERS) each conversation has a stable first choice among them
(rendezvous hashing on its id), and a turn falls over to the next server when the connection is
refused: nothing was sent, so nothing runs twice. The servers share their trackers (SQL tracker
store) and locks (Redis lock store), so any of them can carry on a conversation.

State is in process memory: run one worker per backend process, or route a conversation and its
callbacks to the same process. `_dispatch` and `subscribe` are the two places a Redis pub/sub
channel per conversation would replace, to spread conversations over several workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.api.schemas import BotMessage, ChatMessagePublic
from backend.config import Settings
from backend.conversations.models import ChatMessage
from backend.conversations.service import record_message

logger = logging.getLogger("backend.api.gateway")

WEBHOOK_PATH = "/webhooks/callback/webhook"
# Bounds on undelivered proactive messages, so a silent widget cannot grow memory forever.
MAX_PENDING_PER_CONVERSATION = 50
MAX_PENDING_CONVERSATIONS = 10_000
# Messages a connected socket may fall behind by before the oldest are dropped (it re-syncs
# from the transcript when it reconnects).
SOCKET_QUEUE_SIZE = 100


def server_order(conversation_id: str, servers: list[str]) -> list[str]:
    """The servers in the order a conversation tries them: stable for a conversation, spread
    evenly across conversations, and adding a server moves only the conversations it wins."""

    def weight(server: str) -> bytes:
        return hashlib.sha256(f"{server}|{conversation_id}".encode()).digest()

    return sorted(servers, key=weight, reverse=True)


def apology_text(settings: Settings) -> str:
    return (
        "Sorry, I'm having trouble answering right now. Please try again in a minute, "
        f"or call us on {settings.support_phone} ({settings.support_hours})."
    )


@dataclass
class _Slot:
    """Per-conversation turn lock; `users` counts holders and waiters so idle slots can go."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


@dataclass
class Turn:
    """One customer turn: the customer's message as recorded and the answers to it."""

    customer: ChatMessagePublic
    messages: list[ChatMessagePublic]


def public(row: ChatMessage) -> ChatMessagePublic:
    return ChatMessagePublic(
        id=row.id,
        sender=row.sender.value,
        text=row.text,
        buttons=row.buttons or [],
        created_at=row.created_at,
        agent_name=row.agent_name,
    )


class RasaGateway:
    def __init__(
        self, settings: Settings, client: httpx.AsyncClient, engine: Engine | None = None
    ) -> None:
        self._settings = settings
        self._client = client
        # Where the transcript is recorded; None records nothing (gateway-only tests).
        self._engine = engine
        self._servers = settings.rasa_server_list
        self._slots: dict[str, _Slot] = {}
        self._collectors: dict[str, list[BotMessage]] = {}
        self._pending: OrderedDict[str, deque[ChatMessagePublic]] = OrderedDict()
        # Queues of the WebSockets open per conversation (a shipper may have two tabs).
        self._sockets: dict[str, set[asyncio.Queue[ChatMessagePublic]]] = {}
        # When the widget last spoke or polled, per conversation (open chats for proactive turns).
        self._last_seen: OrderedDict[str, float] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def bind_loop(self) -> None:
        """Remember the event loop that owns the queues (called where the app starts)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()

    @property
    def engine(self) -> Engine | None:
        """The transcript's database (None: nothing is recorded)."""
        return self._engine

    @property
    def apology(self) -> BotMessage:
        return BotMessage(text=apology_text(self._settings))

    async def send(self, conversation_id: str, text: str) -> list[ChatMessagePublic]:
        """Run one user turn and return the bot's messages; an apology when Rasa fails."""
        return (await self.turn(conversation_id, text)).messages

    async def turn(self, conversation_id: str, text: str, shown: str | None = None) -> Turn:
        """Record the customer's words (`shown`: a button's title when `text` is its payload;
        else `text`), post `text` to Rasa, record and return the bot's messages."""
        self.touch(conversation_id)
        slot = self._slots.setdefault(conversation_id, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                customer = await run_in_threadpool(
                    self.record, conversation_id, BotMessage(text=shown or text), "customer"
                )
                answers = await self._turn(conversation_id, text)
                recorded = await run_in_threadpool(self._record_all, conversation_id, answers)
                return Turn(customer=customer, messages=recorded)
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[conversation_id]

    async def _turn(self, conversation_id: str, text: str) -> list[BotMessage]:
        started = time.perf_counter()
        collected: list[BotMessage] = []
        self._collectors[conversation_id] = collected
        try:
            fault = await self._post(conversation_id, text)
        finally:
            del self._collectors[conversation_id]
        if fault is None and not collected:
            # Rasa ran the turn but said nothing: typically the action server is down.
            fault = "rasa answered without any bot message"
        elapsed_ms = (time.perf_counter() - started) * 1000
        if fault is not None:
            logger.warning(
                "turn conversation=%s chars=%d fault=%r ms=%.0f",
                conversation_id,
                len(text),
                fault,
                elapsed_ms,
            )
            return [self.apology]
        logger.info(
            "turn conversation=%s chars=%d bot_messages=%d ms=%.0f",
            conversation_id,
            len(text),
            len(collected),
            elapsed_ms,
        )
        return collected

    def servers_for(self, conversation_id: str) -> list[str]:
        """The Rasa servers this conversation tries, first choice first."""
        return server_order(conversation_id, self._servers)

    async def _request(
        self, conversation_id: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """Send to the conversation's first reachable Rasa server. Only a refused connection
        moves on to the next server (the request never left); any other fault is raised."""
        servers = self.servers_for(conversation_id)
        if len(servers) > 1:
            # A fresh connection per request: a pooled one to a server that has since died
            # fails only after the request was written, which is not safe to send elsewhere;
            # a new one is refused at once. On a local network it costs well under a turn's 1%.
            kwargs["headers"] = {"Connection": "close"}
        for number, server in enumerate(servers, start=1):
            try:
                return await self._client.request(method, server + path, **kwargs)
            except httpx.ConnectError as exc:
                if number == len(servers):
                    raise
                logger.warning(
                    "rasa server %s unreachable (%s), trying the next for conversation=%s",
                    server,
                    type(exc).__name__,
                    conversation_id,
                )
        raise RuntimeError("no Rasa server configured")

    async def _post(self, conversation_id: str, text: str) -> str | None:
        """POST the user's text to Rasa; the reason of the fault, or None when Rasa succeeded."""
        try:
            response = await self._request(
                conversation_id,
                "POST",
                WEBHOOK_PATH,
                json={"sender": conversation_id, "message": text},
                timeout=self._settings.rasa_timeout_seconds,
            )
        except httpx.TimeoutException:
            return f"rasa timed out after {self._settings.rasa_timeout_seconds:g}s"
        except httpx.HTTPError as exc:
            return f"rasa unreachable: {type(exc).__name__}: {exc}"
        if not response.is_success:
            return f"rasa answered HTTP {response.status_code}"
        return None

    async def deliver(self, conversation_id: str, message: BotMessage) -> bool:
        """Route a message Rasa posted back: to the running turn, else record it and pass it
        to the conversation's sockets or pending queue. Returns True when a turn was waiting."""
        collector = self._collectors.get(conversation_id)
        if collector is not None:
            collector.append(message)
            return True
        recorded = await run_in_threadpool(self.record, conversation_id, message, "bot")
        self._dispatch(conversation_id, recorded)
        return False

    def push(
        self,
        conversation_id: str,
        message: BotMessage,
        sender: str = "bot",
        agent_name: str | None = None,
    ) -> None:
        """Record a message that does not come from Rasa (an agent's reply: sender="agent")
        and deliver it at once to the conversation's sockets, else to its pending queue.

        Synchronous and safe from any thread (sync routes run in a thread pool); from async code
        it blocks for one short insert.
        """
        recorded = self.record(conversation_id, message, sender, agent_name)
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            self._dispatch(conversation_id, recorded)
        else:
            loop.call_soon_threadsafe(self._dispatch, conversation_id, recorded)

    def record(
        self,
        conversation_id: str,
        message: BotMessage,
        sender: str,
        agent_name: str | None = None,
    ) -> ChatMessagePublic:
        """Write one message to the transcript; a database fault loses the record, not the
        message (it is still shown, without an id)."""
        unrecorded = ChatMessagePublic(
            **message.model_dump(include={"text", "buttons", "image", "custom"}),
            sender=sender,
            agent_name=agent_name,
        )
        if self._engine is None:
            return unrecorded
        buttons = [b.model_dump() for b in message.buttons] or None
        try:
            with Session(self._engine) as session:
                row = record_message(
                    session, conversation_id, sender, message.text or "", buttons, agent_name
                )
                session.commit()
                return unrecorded.model_copy(update={"id": row.id, "created_at": row.created_at})
        except SQLAlchemyError as exc:
            logger.error("transcript not recorded conversation=%s: %s", conversation_id, exc)
            return unrecorded

    def _record_all(
        self, conversation_id: str, messages: list[BotMessage]
    ) -> list[ChatMessagePublic]:
        return [self.record(conversation_id, m, "bot") for m in messages]

    def _dispatch(self, conversation_id: str, message: ChatMessagePublic) -> None:
        """To every open socket of the conversation, else to the queue the widget polls."""
        sockets = self._sockets.get(conversation_id)
        if sockets:
            for queue in sockets:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(message)
            logger.info("pushed message conversation=%s sockets=%d", conversation_id, len(sockets))
            return
        queue = self._pending.get(conversation_id)
        if queue is None:
            if len(self._pending) >= MAX_PENDING_CONVERSATIONS:
                dropped, _ = self._pending.popitem(last=False)
                logger.warning("pending queue full, dropped conversation=%s", dropped)
            queue = self._pending[conversation_id] = deque(maxlen=MAX_PENDING_PER_CONVERSATION)
        queue.append(message)
        logger.info("queued proactive message conversation=%s", conversation_id)

    def take_pending(self, conversation_id: str) -> list[ChatMessagePublic]:
        """Return and forget the messages waiting for this conversation."""
        self.touch(conversation_id)
        queue = self._pending.pop(conversation_id, None)
        return list(queue) if queue else []

    def subscribe(self, conversation_id: str) -> asyncio.Queue[ChatMessagePublic]:
        """A queue that receives the conversation's messages from now on, starting with those
        waiting for it. Call `unsubscribe` with it when the socket closes."""
        queue: asyncio.Queue[ChatMessagePublic] = asyncio.Queue(maxsize=SOCKET_QUEUE_SIZE)
        for message in self.take_pending(conversation_id)[-SOCKET_QUEUE_SIZE:]:
            queue.put_nowait(message)
        self._sockets.setdefault(conversation_id, set()).add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue[ChatMessagePublic]) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(queue)
            if not sockets:
                del self._sockets[conversation_id]
        self.touch(conversation_id)

    def connected(self, conversation_id: str) -> int:
        """How many sockets of this conversation are open."""
        return len(self._sockets.get(conversation_id, ()))

    def active_conversations(self) -> int:
        return len(self._slots)

    def touch(self, conversation_id: str) -> None:
        self._last_seen[conversation_id] = time.monotonic()
        self._last_seen.move_to_end(conversation_id)
        while len(self._last_seen) > MAX_PENDING_CONVERSATIONS:
            self._last_seen.popitem(last=False)

    def open_conversations(self, within_seconds: float) -> list[str]:
        """Conversations with a socket open, then those whose widget spoke or polled in the
        last `within_seconds`, newest first."""
        cutoff = time.monotonic() - within_seconds
        recent = [cid for cid, seen in reversed(self._last_seen.items()) if seen >= cutoff]
        connected = [cid for cid in recent if cid in self._sockets]
        connected += [cid for cid in self._sockets if cid not in connected]
        return connected + [cid for cid in recent if cid not in self._sockets]

    async def conversation_slots(self, conversation_id: str) -> dict[str, object] | None:
        """The conversation's slots from Rasa's HTTP API (None when it cannot be read)."""
        path = f"/conversations/{conversation_id}/tracker"
        params = {"include_events": "NONE", "token": self._settings.rasa_api_token}
        try:
            response = await self._request(conversation_id, "GET", path, params=params, timeout=5.0)
        except httpx.HTTPError as exc:
            logger.warning("tracker of conversation=%s unreadable: %s", conversation_id, exc)
            return None
        if not response.is_success:
            logger.warning(
                "tracker of conversation=%s: HTTP %s", conversation_id, response.status_code
            )
            return None
        return dict(response.json().get("slots") or {})

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, str]
    ) -> bool:
        """Start a bot turn in this conversation as if the user had said `intent`.

        The turn's messages reach the callback route, outside any user turn, so they go to the
        conversation's sockets or the pending queue the widget polls. Runs under the
        conversation's turn lock, so it never interleaves with a user's turn. Returns whether
        Rasa ran it.
        """
        path = f"/conversations/{conversation_id}/trigger_intent"
        params = {"output_channel": "callback", "token": self._settings.rasa_api_token}
        slot = self._slots.setdefault(conversation_id, _Slot())
        slot.users += 1
        try:
            async with slot.lock:
                response = await self._request(
                    conversation_id,
                    "POST",
                    path,
                    params=params,
                    json={"name": intent, "entities": entities},
                    timeout=self._settings.rasa_timeout_seconds,
                )
        except httpx.HTTPError as exc:
            logger.warning("trigger_intent conversation=%s failed: %s", conversation_id, exc)
            return False
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[conversation_id]
        if not response.is_success:
            logger.warning(
                "trigger_intent conversation=%s: HTTP %s", conversation_id, response.status_code
            )
            return False
        logger.info("triggered intent=%s conversation=%s", intent, conversation_id)
        return True

    async def parse(self, text: str) -> dict[str, object] | None:
        """Rasa's NLU reading of a text (intent, entities), without touching any conversation;
        None when Rasa cannot be asked."""
        try:
            # No conversation: spread by the text, any server reads it the same.
            response = await self._request(
                text,
                "POST",
                "/model/parse",
                params={"token": self._settings.rasa_api_token},
                json={"text": text},
                timeout=5.0,
            )
        except httpx.HTTPError as exc:
            logger.warning("parse failed: %s", exc)
            return None
        if not response.is_success:
            logger.warning("parse: HTTP %s", response.status_code)
            return None
        return dict(response.json())
