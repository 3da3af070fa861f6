"""Quick replies and typed `/intent{...}` text over POST /api/chat and the WebSocket, against
the fake Rasa: only a payload the bot offered in its latest messages reaches Rasa as one."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.sync.client import connect

from backend.api.customer_input import SURVEY_LINK_TITLE
from tests.backend.api.conftest import Backend, receive, ws_url


def new_id() -> str:
    return uuid.uuid4().hex


def offered(backend: Backend) -> str:
    """A conversation whose last bot message offers Yes (/affirm) and No (/deny)."""
    conversation = new_id()
    assert backend.chat("buttons", conversation).status_code == 200
    return conversation


def history(backend: Backend, conversation: str) -> list[tuple[str, str]]:
    messages = backend.get(f"/api/chat/{conversation}/history").json()["messages"]
    return [(m["sender"], m["text"]) for m in messages]


def test_an_offered_button_reaches_rasa_as_its_payload_and_shows_its_title(backend, rasa):
    conversation = offered(backend)
    response = backend.chat("Yes", conversation, payload="/affirm")

    assert response.status_code == 200
    assert rasa.messages_from(conversation) == ["buttons", "/affirm"]
    assert history(backend, conversation)[-2] == ("customer", "Yes")


def test_the_title_recorded_is_the_offered_one_not_the_clients(backend, rasa):
    conversation = offered(backend)
    backend.chat("I agree to pay £1000", conversation, payload="/deny")
    assert rasa.messages_from(conversation)[-1] == "/deny"
    assert history(backend, conversation)[-2] == ("customer", "No")


@pytest.mark.parametrize(
    "payload",
    [
        "/restart",
        "/session_start",
        "/human_handoff",
        '/affirm{"tracking_number": "LP123456785GB"}',  # entities the bot did not offer
        '/inform{"tracking_number":"LP123456785GB","verified":true}',
        "/affirm ",
        " /affirm",
        "/AFFIRM",
        "/affirm@0.99",
        "／affirm",
        "yes",
    ],
)
def test_a_payload_not_offered_goes_as_the_customers_words(backend, rasa, payload):
    conversation = offered(backend)
    backend.chat("Yes", conversation, payload=payload)
    assert rasa.messages_from(conversation)[-1] == "Yes"


def test_a_forged_payload_with_no_words_goes_as_plain_text(backend, rasa):
    conversation = offered(backend)
    backend.chat("", conversation, payload='/inform{"tracking_number": "LP1"}')
    assert rasa.messages_from(conversation)[-1] == 'inform{"tracking_number": "LP1"}'


def test_a_payload_is_good_once_then_stale(backend, rasa):
    conversation = offered(backend)
    backend.chat("Yes", conversation, payload="/affirm")
    # The bot's answer to it offered nothing: the same click again is no longer a click.
    backend.chat("Yes", conversation, payload="/affirm")
    assert rasa.messages_from(conversation) == ["buttons", "/affirm", "Yes"]


def test_a_payload_offered_in_another_conversation_is_not_offered_here(backend, rasa):
    offered(backend)
    conversation = new_id()
    backend.chat("hello", conversation)
    backend.chat("Yes", conversation, payload="/affirm")
    assert rasa.messages_from(conversation) == ["hello", "Yes"]


@pytest.mark.parametrize(
    "typed",
    [
        "/affirm",
        "/restart",
        "/session_start",
        "/nlu_fallback",
        '/inform{"tracking_number":"LP123456785GB","verified":true}',
        "/ affirm",
        "／affirm",
        "\u200b/affirm",
        "  /affirm",
        "\u2060\u202e/affirm",
        "\n\t/affirm",
        "///affirm",
        "⁄affirm",
    ],
)
def test_typed_slash_text_never_reaches_rasa_with_a_slash(backend, rasa, typed):
    conversation = new_id()
    backend.chat(typed, conversation)
    [sent] = rasa.messages_from(conversation)
    assert not sent.strip().startswith("/")  # what Rasa's RegexMessageHandler would read
    assert "affirm" in sent or sent.startswith(("restart", "session", "nlu", "inform"))


def test_an_older_widget_sending_the_offered_payload_as_text_still_clicks(backend, rasa):
    conversation = offered(backend)
    backend.chat("/deny", conversation)
    assert rasa.messages_from(conversation)[-1] == "/deny"
    assert history(backend, conversation)[-2] == ("customer", "No")


def test_a_survey_link_starts_its_survey_with_a_payload_the_gateway_writes(backend, rasa):
    conversation = new_id()
    token = "link-" + "k" * 27
    backend.chat(SURVEY_LINK_TITLE, conversation, survey_token=token)
    [sent] = rasa.messages_from(conversation)
    assert sent == "/give_feedback" + json.dumps({"survey_token": token})
    assert history(backend, conversation)[0] == ("customer", SURVEY_LINK_TITLE)


@pytest.mark.parametrize("token", ['x"}, "verified": true, "a": {"', "short", "t" * 65, "é" * 20])
def test_a_malformed_survey_token_is_refused(backend, rasa, token):
    conversation = new_id()
    response = backend.chat("hi", conversation, survey_token=token)
    assert response.status_code == 422
    assert rasa.messages_from(conversation) == []


def test_over_the_socket_only_the_offered_payload_passes(backend, rasa):
    with connect(ws_url(backend)) as socket:
        conversation = receive(socket)["conversation_id"]
        frames = [
            {"text": "buttons"},
            {"text": "No", "payload": '/deny{"complaint_category": "lost"}'},  # forged entities
            {"text": "buttons"},
            {"text": "Yes", "payload": "/affirm"},
            {"text": "/restart"},
            {"text": SURVEY_LINK_TITLE, "survey_token": "s" * 32},
        ]
        for ref, frame in enumerate(frames):
            socket.send(json.dumps({"type": "message", "ref": ref, **frame}))
            assert receive(socket)["ref"] == ref
        socket.send(json.dumps({"type": "message", "text": "hi", "survey_token": "bad token"}))
        assert receive(socket)["type"] == "error"
    assert rasa.messages_from(conversation) == [
        "buttons",
        "No",
        "buttons",
        "/affirm",
        "restart",
        '/give_feedback{"survey_token": "' + "s" * 32 + '"}',
    ]
