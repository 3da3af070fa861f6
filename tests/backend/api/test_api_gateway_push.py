"""The gateway's push: messages that do not come from Rasa reach open sockets at once, else the
polling queue, and every one lands in the transcript."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from sqlmodel import Session

from backend.api.rasa_gateway import RasaGateway
from backend.api.schemas import BotMessage, Button
from backend.config import Settings
from backend.conversations.service import conversation_history
from backend.store.db import get_engine, upgrade_database

CONVERSATION = "push-test-0123456789"


@pytest.fixture
def engine(sqlite_url: str):
    upgrade_database(sqlite_url)
    return get_engine(sqlite_url)


@pytest.fixture
async def gateway(engine):
    async with httpx.AsyncClient() as client:
        gateway = RasaGateway(Settings(rasa_url="http://127.0.0.1:9"), client, engine)
        gateway.bind_loop()
        yield gateway


def transcript(engine) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        return [
            (m.sender.value, m.text, m.agent_name)
            for m in conversation_history(session, CONVERSATION)
        ]


async def push(gateway: RasaGateway, *args: object) -> None:
    # As the sync routes that push do: from a thread of the pool.
    await asyncio.to_thread(gateway.push, *args)  # type: ignore[arg-type]


async def test_without_a_socket_a_push_waits_for_polling_and_is_recorded(gateway, engine):
    await push(gateway, CONVERSATION, BotMessage(text="Hi, Priya here."), "agent", "Priya Shah")
    [waiting] = await gateway.take_pending(CONVERSATION)
    assert (waiting.sender, waiting.text, waiting.agent_name) == (
        "agent",
        "Hi, Priya here.",
        "Priya Shah",
    )
    assert waiting.id is not None and waiting.created_at is not None
    assert await gateway.take_pending(CONVERSATION) == []
    assert transcript(engine) == [("agent", "Hi, Priya here.", "Priya Shah")]


async def test_an_open_socket_gets_the_push_at_once_and_nothing_waits(gateway, engine):
    first = await gateway.subscribe(CONVERSATION)
    second = await gateway.subscribe(CONVERSATION)  # the same shopper in a second tab
    buttons = [Button(title="Yes", payload="/affirm")]
    await push(gateway, CONVERSATION, BotMessage(text="Still there?", buttons=buttons))

    for queue in (first, second):
        message = await asyncio.wait_for(queue.get(), 1)
        assert (message.sender, message.text, message.buttons) == ("bot", "Still there?", buttons)
    assert await gateway.take_pending(CONVERSATION) == []
    await gateway.unsubscribe(CONVERSATION, first)
    assert await gateway.connected(CONVERSATION)
    await gateway.unsubscribe(CONVERSATION, second)
    assert not await gateway.connected(CONVERSATION)
    await push(gateway, CONVERSATION, BotMessage(text="later"), "system")
    assert [m.text for m in await gateway.take_pending(CONVERSATION)] == ["later"]


async def test_messages_waiting_before_a_socket_opens_are_handed_to_it(gateway):
    await push(gateway, CONVERSATION, BotMessage(text="while you were away"))
    queue = await gateway.subscribe(CONVERSATION)
    assert (await asyncio.wait_for(queue.get(), 1)).text == "while you were away"
    assert await gateway.take_pending(CONVERSATION) == []


async def test_push_from_another_thread_reaches_the_socket(gateway, engine):
    queue = await gateway.subscribe(CONVERSATION)
    # Sync routes run in a thread pool; the queue belongs to the event loop.
    worker = threading.Thread(
        target=gateway.push, args=(CONVERSATION, BotMessage(text="from a thread"), "agent", "Sam")
    )
    worker.start()
    message = await asyncio.wait_for(queue.get(), 2)
    worker.join()
    assert (message.text, message.agent_name) == ("from a thread", "Sam")
    assert transcript(engine) == [("agent", "from a thread", "Sam")]


async def test_a_proactive_rasa_message_is_recorded_and_pushed(gateway, engine):
    queue = await gateway.subscribe(CONVERSATION)
    ran_a_turn = await gateway.deliver(CONVERSATION, BotMessage(text="How did we do?"))
    assert ran_a_turn is False
    assert (await asyncio.wait_for(queue.get(), 1)).text == "How did we do?"
    assert transcript(engine) == [("bot", "How did we do?", None)]


async def test_a_connected_conversation_counts_as_open_for_proactive_surveys(gateway):
    queue = await gateway.subscribe(CONVERSATION)
    assert (await gateway.open_conversations(within_seconds=600))[0] == CONVERSATION
    await gateway.unsubscribe(CONVERSATION, queue)
    assert await gateway.open_conversations(within_seconds=600) == [CONVERSATION]  # seen now


async def test_a_database_fault_loses_the_record_not_the_message(sqlite_url):
    # No migration ran: the table does not exist.
    async with httpx.AsyncClient() as client:
        gateway = RasaGateway(Settings(), client, get_engine(sqlite_url))
        gateway.bind_loop()
        await push(gateway, CONVERSATION, BotMessage(text="still delivered"))
    [message] = await gateway.take_pending(CONVERSATION)
    assert message.text == "still delivered" and message.id is None
