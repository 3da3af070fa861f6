"""Real servers for the API tests: the backend and a fake Rasa, each on its own port, over HTTP.

The fake Rasa behaves like Rasa's `callback` channel: for each user message it POSTs the bot
messages, one at a time, to the backend's callback URL and only then answers "success".
What it says depends on the message (see `FakeRasa.script`), so tests need no shared modes.
Each backend is built with `create_app(Settings(...))`, so tests never touch the environment.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from websockets.sync.client import ClientConnection

from backend.api.main import create_app
from backend.config import Settings

CALLBACK_SECRET = "test-callback-secret-0123456789"
# A PostgreSQL URL nothing answers on (port 1 refuses at once), with a password to keep out of logs.
UNREACHABLE_POSTGRES = "postgresql+psycopg://assistant:secret@127.0.0.1:1/logistics"


def free_port() -> int:
    """A port nothing listens on (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerThread:
    """Uvicorn serving an ASGI app on an already-bound socket, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class FakeRasa:
    """Stands in for `rasa run` with the callback channel enabled."""

    def __init__(self, callback_transport: httpx.AsyncBaseTransport | None = None) -> None:
        # How bot messages reach the backend: real HTTP, or an in-process app's transport.
        self.callback_transport = callback_transport
        self.callback_url = ""
        self.received: list[tuple[str, str]] = []
        self._running: dict[str, int] = defaultdict(int)
        self.max_parallel_turns: dict[str, int] = defaultdict(int)
        self.app = Starlette(
            routes=[
                Route("/", self.root),
                Route("/webhooks/callback/webhook", self.webhook, methods=["POST"]),
            ]
        )

    def messages_from(self, sender: str) -> list[str]:
        return [text for who, text in self.received if who == sender]

    async def root(self, request: Request) -> Response:
        return PlainTextResponse("Hello from Rasa: 3.6.21")

    async def webhook(self, request: Request) -> Response:
        body = await request.json()
        sender, text = body["sender"], body["message"]
        self.received.append((sender, text))
        self._running[sender] += 1
        self.max_parallel_turns[sender] = max(
            self.max_parallel_turns[sender], self._running[sender]
        )
        try:
            return await self.script(sender, text)
        finally:
            self._running[sender] -= 1

    async def script(self, sender: str, text: str) -> Response:
        """`silent`, `error`, `slow <x>`, `three <tag>`, `buttons`; anything else is echoed."""
        word, _, rest = text.partition(" ")
        if word == "silent":
            return PlainTextResponse("success")
        if word == "error":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if word == "slow":
            await asyncio.sleep(1.5)
            await self.say(sender, {"text": f"late answer to {rest}"})
        elif word == "three":
            for n in (1, 2, 3):
                await self.say(sender, {"text": f"{rest} {n}"})
                await asyncio.sleep(0.15)  # lets other conversations' callbacks interleave
        elif word == "buttons":
            await self.say(
                sender,
                {
                    "text": "Was this helpful?",
                    "buttons": [
                        {"title": "Yes", "payload": "/affirm"},
                        {"title": "No", "payload": "/deny"},
                    ],
                },
            )
        else:
            await self.say(sender, {"text": f"echo: {text}"})
        return PlainTextResponse("success")

    async def say(self, sender: str, message: dict[str, Any]) -> None:
        # Exactly what Rasa's CallbackOutput sends: recipient_id plus the message's fields.
        async with httpx.AsyncClient(trust_env=False, transport=self.callback_transport) as client:
            response = await client.post(
                self.callback_url, json={"recipient_id": sender, **message}
            )
            response.raise_for_status()


@dataclass
class Backend:
    url: str
    settings: Settings
    rasa: FakeRasa | None

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20, trust_env=False)

    def chat(
        self, message: str, conversation_id: str | None = None, **fields: str
    ) -> httpx.Response:
        """POST /api/chat; `fields` adds e.g. a quick reply's `payload`."""
        body: dict[str, Any] = {"message": message, **fields}
        if conversation_id is not None:
            body["conversation_id"] = conversation_id
        with self.client() as client:
            return client.post("/api/chat", json=body)

    def chat_raw(self, raw_json: str) -> httpx.Response:
        # For bodies httpx would refuse to encode itself (lone surrogates).
        with self.client() as client:
            return client.post(
                "/api/chat",
                content=raw_json.encode(),
                headers={"Content-Type": "application/json"},
            )

    def get(self, path: str) -> httpx.Response:
        with self.client() as client:
            return client.get(path)


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small seeded SQLite store, migrated the way production databases are.

    A fixed seed and anchor make the data the same on every run.
    """
    from backend.store.db import upgrade_database
    from backend.store.seed import seed_database

    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'api.db'}"
    upgrade_database(url)
    seed_database(url, customers=40, shipments=1_000, seed=42, anchor=SEED_ANCHOR, echo=_quiet)
    return url


SEED_ANCHOR = datetime(2025, 6, 11, 12, 0, tzinfo=UTC)


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="session")
def start_backend(database_url: str) -> Iterator[Callable[..., Backend]]:
    """Start a backend, by default with its own fake Rasa calling it back.

    Keyword arguments override Settings fields; passing `rasa_url` means no fake Rasa.
    Every server started is stopped at the end of the session.
    """
    servers: list[ServerThread] = []

    def serve(app: Any) -> ServerThread:
        server = ServerThread(app).start()
        servers.append(server)
        return server

    def start(**overrides: Any) -> Backend:
        rasa = None if "rasa_url" in overrides else FakeRasa()
        values: dict[str, Any] = {
            "database_url": database_url,
            "rasa_url": serve(rasa.app).url if rasa else "",
            "rasa_callback_secret": CALLBACK_SECRET,
            "rasa_timeout_seconds": 5.0,
            "health_timeout_seconds": 2.0,
            "log_level": "INFO",
            # Every test speaks from 127.0.0.1, many fast: limits only where a test sets them.
            "chat_rate_per_conversation": 0,
            "chat_rate_per_ip": 0,
            "login_max_failures_per_ip": 0,
        } | overrides
        settings = Settings(**values)
        server = serve(create_app(settings))
        if rasa:
            rasa.callback_url = f"{server.url}/rasa/callback/{CALLBACK_SECRET}"
        return Backend(url=server.url, settings=settings, rasa=rasa)

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture(scope="session")
def backend(start_backend: Callable[..., Backend]) -> Backend:
    """The backend every test shares, wired to a healthy fake Rasa."""
    return start_backend()


@pytest.fixture
def rasa(backend: Backend) -> FakeRasa:
    assert backend.rasa is not None
    return backend.rasa


def login_headers(backend: Backend, role: str = "manager") -> dict[str, str]:
    """Bearer headers of a fresh session of the demo agent or manager (created at start-up)."""
    settings = backend.settings
    username, password = (
        (settings.demo_manager_username, settings.demo_manager_password)
        if role == "manager"
        else (settings.demo_agent_username, settings.demo_agent_password)
    )
    return sign_in(backend, username, password)


def sign_in(backend: Backend, username: str, password: str) -> dict[str, str]:
    """Bearer headers of a fresh session of any console account."""
    with backend.client() as client:
        response = client.post(
            "/api/agent/login", json={"username": username, "password": password}
        )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def ws_url(backend: Backend, **params: Any) -> str:
    """The widget's socket on `backend`, with query parameters (conversation_id, after)."""
    query = str(httpx.QueryParams(params))
    return backend.url.replace("http://", "ws://") + "/api/chat/ws" + (f"?{query}" if query else "")


def receive(socket: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    return dict(json.loads(socket.recv(timeout=timeout)))


def callback(backend: Backend, conversation: str, text: str) -> None:
    """What Rasa does outside a turn (a proactive survey): post a bot message to the backend."""
    with httpx.Client(trust_env=False) as client:
        response = client.post(
            f"{backend.url}/rasa/callback/{CALLBACK_SECRET}",
            json={"recipient_id": conversation, "text": text},
        )
        response.raise_for_status()
