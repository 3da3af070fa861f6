"""The conversation gateway: a user turn goes in, the bot's messages come out.

Rasa's `callback` input channel answers the webhook only after the whole turn has run, and during
the turn POSTs every bot message to the callback URL from credentials.yml (our
`/rasa/callback/{secret}` route), awaiting each POST before the next. So a turn takes the
conversation's turn lock, opens a collector for the conversation, posts the text, and when the
webhook returns the collector holds every message of the turn, in order. Messages for a
conversation with no turn collecting (proactive messages, the late end of a turn that timed out,
an agent's reply given to `push`) go at once to the conversation's open WebSockets, or else
wait in a per-conversation queue until the widget polls or reconnects.

Locks, collectors, sockets, queues and when each conversation was last seen live in a
`ConversationBus` (backend.api.conversation_bus): in process memory for the embedded default
(one worker), in Redis in production, where the callback POST of a turn may reach another
backend worker than the one whose turn is waiting, and a push another worker than the one
holding the shipper's socket. The lock makes turns of one conversation run one at a time
across workers, so a collector never mixes two turns' messages. (A turn the gateway gave up on
after RASA_TIMEOUT_SECONDS may still be running in Rasa; its late messages reach the
conversation's sockets, or the next turn's collector if one has started by then.)

Every customer message and every message shown to the customer is recorded in the transcript
(backend.conversations) when the gateway has a database engine.

With several Rasa servers (RASA_SERVERS) each conversation has a stable first choice among them
(rendezvous hashing on its id), and a turn falls over to the next server when the connection is
refused: nothing was sent, so nothing runs twice. The servers share their trackers (SQL tracker
store) and locks (Redis lock store), so any of them can carry on a conversation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from backend.api.conversation_bus import BusUnavailable, ConversationBus
from backend.api.memory_bus import InMemoryBus
from backend.api.schemas import BotMessage, ChatMessagePublic
from backend.config import Settings
from backend.conversations.models import ChatMessage
from backend.conversations.service import record_message

logger = logging.getLogger("backend.api.gateway")

WEBHOOK_PATH = "/webhooks/callback/webhook"
# Longest a thread waits for a pushed message to be handed to the sockets or the queue.
PUSH_TIMEOUT_SECONDS = 10.0


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
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        engine: Engine | None = None,
        bus: ConversationBus | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        # Where the transcript is recorded; None records nothing (gateway-only tests).
        self._engine = engine
        self._servers = settings.rasa_server_list
        # What the workers share: locks, collectors, sockets, queues, last seen.
        self._bus: ConversationBus = bus or InMemoryBus()
        # Turns running in this worker.
        self._running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # Pushes made from the loop's own thread, kept until done (and in order).
        self._pushes: set[asyncio.Task[None]] = set()
        self._push_order = asyncio.Lock()

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
        self._running += 1
        customer: ChatMessagePublic | None = None
        try:
            await self._bus.touch(conversation_id)
            async with self._bus.turn_lock(conversation_id):
                customer = await run_in_threadpool(
                    self.record, conversation_id, BotMessage(text=shown or text), "customer"
                )
                answers = await self._turn(conversation_id, text)
                recorded = await run_in_threadpool(self.record_all, conversation_id, answers, "bot")
                return Turn(customer=customer, messages=recorded)
        except BusUnavailable as exc:
            logger.warning("turn conversation=%s fault=%r", conversation_id, str(exc))
            if customer is None:  # refused before anything was recorded: record nothing
                unrecorded = ChatMessagePublic(text=self.apology.text, sender="bot")
                return Turn(ChatMessagePublic(text=text, sender="customer"), [unrecorded])
            apology = await run_in_threadpool(self.record, conversation_id, self.apology, "bot")
            return Turn(customer=customer, messages=[apology])
        finally:
            self._running -= 1

    async def _turn(self, conversation_id: str, text: str) -> list[BotMessage]:
        started = time.perf_counter()
        token = await self._bus.open_turn(conversation_id)
        try:
            fault = await self._post(conversation_id, text)
        finally:
            collected = await self._bus.close_turn(conversation_id, token)
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
        """Route a message Rasa posted back: to the running turn (in whichever worker it runs),
        else record it and pass it to the conversation's sockets or pending queue. Returns
        True when a turn was waiting."""
        try:
            if await self._bus.offer(conversation_id, message):
                logger.info("callback conversation=%s given to its turn", conversation_id)
                return True
        except BusUnavailable as exc:
            logger.warning("callback conversation=%s not offered: %s", conversation_id, exc)
        recorded = await run_in_threadpool(self.record, conversation_id, message, "bot")
        await self._dispatch(conversation_id, recorded)
        return False

    def push(
        self,
        conversation_id: str,
        message: BotMessage,
        sender: str = "bot",
        agent_name: str | None = None,
    ) -> None:
        """Record a message that does not come from Rasa (an agent's reply: sender="agent")
        and deliver it to the conversation's sockets (in any worker), else to its pending queue.

        Synchronous and safe from any thread (sync routes run in a thread pool, where it
        returns once the message is handed over); from the event loop's own thread it blocks
        for one short insert and hands the message over in a task, in call order.
        """
        recorded = self.record(conversation_id, message, sender, agent_name)
        loop = self._loop
        if loop is None:
            raise RuntimeError("push before bind_loop: the gateway has no event loop")
        if threading.get_ident() == self._loop_thread:
            task = loop.create_task(self._in_order(self._dispatch(conversation_id, recorded)))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)
            return
        done = asyncio.run_coroutine_threadsafe(self._dispatch(conversation_id, recorded), loop)
        done.result(PUSH_TIMEOUT_SECONDS)

    async def _in_order(self, dispatch: Coroutine[Any, Any, None]) -> None:
        async with self._push_order:  # FIFO: pushes leave in the order they were made
            await dispatch

    def record(
        self,
        conversation_id: str,
        message: BotMessage,
        sender: str,
        agent_name: str | None = None,
    ) -> ChatMessagePublic:
        """Write one message to the transcript; a database fault loses the record, not the
        message (it is still shown, without an id)."""
        return self.record_all(conversation_id, [message], sender, agent_name)[0]

    def record_all(
        self,
        conversation_id: str,
        messages: list[BotMessage],
        sender: str,
        agent_name: str | None = None,
    ) -> list[ChatMessagePublic]:
        """Write messages to the transcript in one transaction (a turn's bot messages: one
        commit, not one each)."""
        shown = [
            ChatMessagePublic(
                **m.model_dump(include={"text", "buttons", "image", "custom"}),
                sender=sender,
                agent_name=agent_name,
            )
            for m in messages
        ]
        if self._engine is None or not messages:
            return shown
        try:
            with Session(self._engine) as session:
                rows = [
                    record_message(
                        session,
                        conversation_id,
                        sender,
                        m.text or "",
                        [b.model_dump() for b in m.buttons] or None,
                        agent_name,
                    )
                    for m in messages
                ]
                session.commit()
                return [
                    public.model_copy(update={"id": row.id, "created_at": row.created_at})
                    for public, row in zip(shown, rows, strict=True)
                ]
        except SQLAlchemyError as exc:
            logger.error("transcript not recorded conversation=%s: %s", conversation_id, exc)
            return shown

    async def _dispatch(self, conversation_id: str, message: ChatMessagePublic) -> None:
        try:
            await self._bus.dispatch(conversation_id, message)
        except BusUnavailable as exc:
            # Recorded all the same: the widget finds it in the transcript when it reconnects.
            logger.warning("message not delivered conversation=%s: %s", conversation_id, exc)

    async def take_pending(self, conversation_id: str) -> list[ChatMessagePublic]:
        """Return and forget the messages waiting for this conversation."""
        await self._bus.touch(conversation_id)
        return await self._bus.take_pending(conversation_id)

    async def subscribe(self, conversation_id: str) -> asyncio.Queue[ChatMessagePublic]:
        """A queue that receives the conversation's messages from now on, starting with those
        waiting for it. Call `unsubscribe` with it when the socket closes."""
        await self._bus.touch(conversation_id)
        return await self._bus.subscribe(conversation_id)

    async def unsubscribe(
        self, conversation_id: str, queue: asyncio.Queue[ChatMessagePublic]
    ) -> None:
        await self._bus.unsubscribe(conversation_id, queue)
        await self._bus.touch(conversation_id)

    async def connected(self, conversation_id: str) -> bool:
        """Whether a socket of this conversation is open, in any worker."""
        return await self._bus.connected(conversation_id)

    def active_conversations(self) -> int:
        """Turns running in this worker."""
        return self._running

    async def touch(self, conversation_id: str) -> None:
        await self._bus.touch(conversation_id)

    async def open_conversations(self, within_seconds: float) -> list[str]:
        """Conversations with a socket open, then those whose widget spoke or polled in the
        last `within_seconds`, newest first."""
        return await self._bus.open_conversations(within_seconds)

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
        try:
            async with self._bus.turn_lock(conversation_id):
                response = await self._request(
                    conversation_id,
                    "POST",
                    path,
                    params=params,
                    json={"name": intent, "entities": entities},
                    timeout=self._settings.rasa_timeout_seconds,
                )
        except (httpx.HTTPError, BusUnavailable) as exc:
            logger.warning("trigger_intent conversation=%s failed: %s", conversation_id, exc)
            return False
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
