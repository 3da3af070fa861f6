"""What of a customer's message reaches Rasa: cleaning, and payloads only when offered."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.api.customer_input import (
    clean_message,
    is_survey_token,
    survey_link_payload,
    utterance,
)

OFFERED = [{"title": "Yes", "payload": "/affirm"}, {"title": "Phone", "payload": "phone"}]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.sampled_from(' \t\n\u200b\u2060\ufeff\u202e/／⁄∕⧸╱⟋affirm{}"@')))
def test_cleaned_text_never_reads_as_a_payload(raw: str) -> None:
    # Rasa strips the text, then reads a leading "/" as an intent.
    assert not clean_message(raw).strip().startswith("/")
    assert not utterance(raw, None, []).to_rasa.strip().startswith("/")


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text())
def test_any_text_is_cleaned_to_something_rasa_can_take(raw: str) -> None:
    text = clean_message(raw)
    text.encode("utf-8")  # no lone surrogates left
    assert not text.strip().startswith("/")
    assert clean_message(text) == text


@pytest.mark.parametrize(
    ("message", "payload", "to_rasa", "shown"),
    [
        ("Yes", "/affirm", "/affirm", "Yes"),
        ("whatever", "/affirm", "/affirm", "Yes"),  # the offered title is recorded
        ("Phone", "phone", "phone", "Phone"),
        ("Yes", "/affirm{}", "Yes", "Yes"),
        ("Yes", '/affirm{"tracking_number": "LP1"}', "Yes", "Yes"),
        ("Yes", "/deny", "Yes", "Yes"),
        ("", "/restart", "restart", "restart"),
        ("/affirm", None, "/affirm", "Yes"),  # an older widget's click
        (" /affirm ", None, "/affirm", "Yes"),
        ("/affirm please", None, "affirm please", "affirm please"),
        ("phone", None, "phone", "phone"),  # typed words stay typed words
        ("/deny", None, "deny", "deny"),
    ],
)
def test_utterance(message: str, payload: str | None, to_rasa: str, shown: str) -> None:
    said = utterance(message, payload, OFFERED)
    assert (said.to_rasa, said.shown) == (to_rasa, shown)


def test_a_survey_link_payload_is_json_of_a_checked_token() -> None:
    token = "abcdefghijklmnop_-12"
    assert survey_link_payload(token) == "/give_feedback" + json.dumps({"survey_token": token})
    for bad in ('x"}, "verified": true, "y": {"', "short", "a" * 65, "tok en" * 4):
        assert not is_survey_token(bad)
        with pytest.raises(ValueError):
            survey_link_payload(bad)
