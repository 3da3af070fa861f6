"""What the backend writes to its log: one line per request and turn, never what customers type."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator

import pytest


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = Records()
    logger = logging.getLogger("backend")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def test_turn_is_logged_without_its_text(backend, log_lines):
    conversation = uuid.uuid4().hex
    secret_words = "my parcel to 221B Baker Street"
    backend.chat(secret_words, conversation)

    turn = [line for line in log_lines if line.startswith("turn ")]
    assert len(turn) == 1
    assert f"conversation={conversation}" in turn[0]
    assert f"chars={len(secret_words)}" in turn[0]
    # The request line is written once the response has gone out, so it may trail a moment.
    deadline = time.monotonic() + 2
    while not any(line.startswith("POST /api/chat 200") for line in log_lines):
        assert time.monotonic() < deadline, log_lines
        time.sleep(0.01)
    assert not any("Baker" in line for line in log_lines)


def test_paths_are_logged_as_route_templates(backend, log_lines):
    secret = backend.settings.rasa_callback_secret
    with backend.client() as client:
        client.post(f"/rasa/callback/{secret}", json={"recipient_id": "abcdefgh", "text": "x"})
        client.post("/rasa/callback/guess", json={"recipient_id": "abcdefgh", "text": "x"})
        client.get("/api/shipments/LP0000000000")
        client.get("/no/such/page")

    text = "\n".join(log_lines)
    assert secret not in text and "guess" not in text
    assert "POST /rasa/callback/{secret} 200" in text
    assert "POST /rasa/callback/{secret} 403" in text
    assert "LP0000000000" not in text
    assert "GET <unmatched> 404" in text


def test_uvicorn_access_log_is_silenced(backend):
    # Uvicorn's access lines would carry raw paths, callback secret included.
    assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
