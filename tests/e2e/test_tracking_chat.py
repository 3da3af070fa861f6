"""Shippers chatting through the backend with the real Rasa and action servers."""

from __future__ import annotations

import re

from backend.store import tracking_numbers
from backend.store.models import Shipment
from scripts.stack import Stack
from tests.e2e.conftest import Chat


def last4(shipment: Shipment) -> str:
    return re.sub(r"\D", "", shipment.consignee_phone)[-4:]


def with_bad_check_digit(number: str) -> str:
    return number[:10] + str((int(number[10]) + 1) % 10) + number[11:]


def test_where_is_my_parcel(chat: Chat, examples: dict[str, Shipment]) -> None:
    parcel = examples["in transit"]
    answer = chat.say_text(f"where is my parcel {parcel.tracking_number}")
    assert parcel.tracking_number in answer
    assert parcel.consignee_address not in answer  # status is public, the address is not


def test_late_parcel_gets_an_apology(chat: Chat, examples: dict[str, Shipment]) -> None:
    parcel = examples["delivered late"]
    answer = chat.say_text(f"has {parcel.tracking_number.lower()} arrived?")
    assert parcel.tracking_number in answer
    assert "sorry" in answer.lower()


def test_number_asked_for_when_missing(chat: Chat, examples: dict[str, Shipment]) -> None:
    question = chat.say_text("has my order shipped yet?")
    assert "tracking number" in question.lower()
    parcel = examples["delivered on time"]
    answer = chat.say_text(parcel.tracking_number)
    assert parcel.tracking_number in answer and "deliver" in answer.lower()


def test_bad_check_digit_twice_offers_a_person(chat: Chat, examples: dict[str, Shipment]) -> None:
    wrong = with_bad_check_digit(examples["in transit"].tracking_number)
    first = chat.say_text(f"track {wrong}")
    assert "check digit" in first
    second = chat.say(wrong)
    assert "check digit" in " ".join(str(m.get("text")) for m in second)
    payloads = [b["payload"] for m in second for b in m.get("buttons", [])]  # type: ignore[union-attr]
    assert "/human_handoff" in payloads
    handoff = chat.say_text("/human_handoff")
    assert "An agent will join this chat in about" in handoff


def test_unknown_number_is_never_invented(chat: Chat) -> None:
    unknown = tracking_numbers.make("LP", 99_999_998)
    messages = chat.say(f"where is {unknown}")
    text = " ".join(str(m.get("text")) for m in messages)
    assert "can't find" in text
    assert any(m.get("buttons") for m in messages)


def test_details_after_verification(chat: Chat, examples: dict[str, Shipment]) -> None:
    parcel = examples["in transit"]
    ask = chat.say_text(f"what address is {parcel.tracking_number} going to?")
    assert "last four digits" in ask
    answer = chat.say_text(last4(parcel))
    assert parcel.consignee_address in answer and parcel.consignee_name in answer


def test_wrong_proof_three_times_locks(chat: Chat, examples: dict[str, Shipment]) -> None:
    parcel = examples["out for delivery"]
    wrong = f"{(int(last4(parcel)) + 1) % 10_000:04d}"
    chat.say_text(f"who is {parcel.tracking_number} addressed to")
    assert "doesn't match" in chat.say_text(wrong)
    assert "doesn't match" in chat.say_text(wrong)
    locked = chat.say_text(wrong)
    assert "locked" in locked
    again = chat.say_text(f"show me the delivery address of {parcel.tracking_number}")
    assert "can't show" in again and parcel.consignee_address not in again
    # Tracking still works for a locked shipment.
    assert parcel.tracking_number in chat.say_text(f"where is {parcel.tracking_number}")


def test_redirect_after_verification(chat: Chat, examples: dict[str, Shipment]) -> None:
    parcel = examples["in transit"]
    chat.say_text(f"where is {parcel.tracking_number}")
    assert "last four digits" in chat.say_text("can you deliver it to my office instead?")
    assert "address" in chat.say_text(last4(parcel)).lower()
    done = chat.say_text("Unit 4, 20 Wellington Street, Leeds LS1 4DL")
    assert "20 Wellington Street" in done and "AC-" in done


def test_delivered_parcel_cannot_be_redirected(chat: Chat, examples: dict[str, Shipment]) -> None:
    parcel = examples["delivered on time"]
    answer = chat.say_text(f"please change the delivery address for {parcel.tracking_number}")
    assert "already been delivered" in answer


def test_odd_input_gets_a_polite_answer(chat: Chat) -> None:
    for text in (
        "",
        "😀😀😀",
        "我的包裹在哪里",
        "'; DROP TABLE shipments; --",
        "<script>x</script>",
    ):
        messages = chat.say(text)
        assert messages and all(m.get("text") for m in messages), text
    assert "2000" in chat.say_text("x" * 5000).replace(",", "")


def test_action_server_down_gets_an_apology(stack: Stack, chat: Chat) -> None:
    stack.kill("actions")
    try:
        answer = chat.say_text(f"where is my parcel {tracking_numbers.make('LP', 12_345_678)}")
        assert "sorry" in answer.lower()
    finally:
        stack.restart("actions")
    # Service resumes by itself once the action server is back.
    unknown = tracking_numbers.make("LP", 12_345_678)
    assert "can't find" in chat.say_text(f"where is my parcel {unknown}")
