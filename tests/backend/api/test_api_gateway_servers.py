"""Several Rasa servers behind the gateway: each conversation keeps a stable first choice, the
conversations spread over the servers, and a refused connection falls over to the next one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from backend.api.rasa_gateway import WEBHOOK_PATH, RasaGateway, server_order
from backend.api.schemas import BotMessage
from backend.config import Settings
from scripts.stack import free_port

SERVERS = ["http://127.0.0.1:5005", "http://127.0.0.1:5006"]


def test_the_order_is_stable_and_a_permutation() -> None:
    for _ in range(50):
        conversation = uuid4().hex
        order = server_order(conversation, SERVERS)
        assert sorted(order) == sorted(SERVERS)
        assert server_order(conversation, list(reversed(SERVERS))) == order


def test_conversations_spread_evenly() -> None:
    firsts = [server_order(uuid4().hex, SERVERS)[0] for _ in range(2000)]
    share = firsts.count(SERVERS[0]) / len(firsts)
    assert 0.45 < share < 0.55, share


def test_a_new_server_takes_conversations_only_for_itself() -> None:
    third = [*SERVERS, "http://127.0.0.1:5007"]
    moved = 0
    for _ in range(1000):
        conversation = uuid4().hex
        before, after = server_order(conversation, SERVERS)[0], server_order(conversation, third)[0]
        if before != after:
            assert after == third[2]
            moved += 1
    assert 250 < moved < 420, moved


def test_one_server_is_the_rasa_url() -> None:
    assert Settings(rasa_url="http://127.0.0.1:5005/").rasa_server_list == [SERVERS[0]]
    spaced = Settings(rasa_servers=f" {SERVERS[0]}/ , {SERVERS[1]} ,")
    assert spaced.rasa_server_list == SERVERS


class FakeRasa:
    """A webhook that answers like Rasa's callback channel: each bot message goes to the
    gateway before the webhook returns."""

    def __init__(self, gateway_box: list[RasaGateway]) -> None:
        self.port = free_port()
        self.senders: list[str] = []
        self._gateway_box = gateway_box

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        assert head.startswith(f"POST {WEBHOOK_PATH}".encode())
        body = json.loads(await reader.readexactly(length))
        self.senders.append(body["sender"])
        await self._gateway_box[0].deliver(body["sender"], BotMessage(text=f"from {self.port}"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]")
        await writer.drain()
        writer.close()


@pytest.fixture
async def live() -> AsyncIterator[tuple[RasaGateway, FakeRasa, str]]:
    box: list[RasaGateway] = []
    rasa = FakeRasa(box)
    server = await asyncio.start_server(rasa.handle, "127.0.0.1", rasa.port)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: connections are refused
    settings = Settings(rasa_servers=f"{dead},{rasa.url}", rasa_timeout_seconds=5)
    async with server, httpx.AsyncClient() as client:
        box.append(RasaGateway(settings, client))
        yield box[0], rasa, dead


async def test_a_refused_server_falls_over_to_the_next(
    live: tuple[RasaGateway, FakeRasa, str],
) -> None:
    gateway, rasa, dead = live
    # Conversations whose first choice is the dead server, and some whose first is the live one.
    candidates = [uuid4().hex for _ in range(200)]
    conversations = [c for c in candidates if gateway.servers_for(c)[0] == dead][:3]
    conversations += [c for c in candidates if gateway.servers_for(c)[0] == rasa.url][:3]
    assert len(conversations) == 6
    for conversation in conversations:
        answer = await gateway.send(conversation, "hello")
        assert [m.text for m in answer] == [f"from {rasa.port}"]
    assert rasa.senders == conversations


async def test_every_server_down_is_an_apology(live: tuple[RasaGateway, FakeRasa, str]) -> None:
    gateway, rasa, dead = live
    settings = Settings(rasa_servers=f"{dead},http://127.0.0.1:{free_port()}")
    async with httpx.AsyncClient() as client:
        alone = RasaGateway(settings, client)
        answer = await alone.send("c-down", "hello")
    assert [m.text for m in answer] == [alone.apology.text]
    assert rasa.senders == []
