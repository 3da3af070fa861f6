"""The backend loads the knowledge encoder (torch and the model, about 450 MB per worker) only
when an agent signs in: shippers' turns never need it here (the action server answers them)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

import knowledge.index
from tests.backend.api.conftest import Backend, login_headers


def test_the_encoder_is_warmed_by_an_agent_signing_in_not_by_the_start(
    start_backend: Callable[..., Backend], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real preload, as the services run it, with the loading itself left out.
    monkeypatch.setenv("KNOWLEDGE_PRELOAD", "1")
    monkeypatch.setattr(knowledge.index, "_preload_started", threading.Event())
    monkeypatch.setattr(knowledge.index, "get_index", lambda: None)
    monkeypatch.setattr(knowledge.index, "encode_query", lambda _text: None)
    backend = start_backend()
    with backend.client() as client:
        assert client.post("/api/chat", json={"message": "hello"}).status_code == 200
    assert not knowledge.index._preload_started.is_set()
    login_headers(backend, role="agent")
    assert knowledge.index._preload_started.is_set()
