"""Questions about the service through the backend, the real Rasa and action servers.

The services load the default index (``var/knowledge-index``), as ``make run`` does; the
`stack` fixture builds it first when the knowledge changed.
"""

from __future__ import annotations

from pathlib import Path

from actions import messages
from backend.store.models import Shipment
from scripts.bench import group_processes
from scripts.stack import Stack
from tests.e2e.conftest import Chat

OFFER_HUMAN = "Would you like to talk to one of our team about it?"


def texts(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)


def payloads(messages: list[dict[str, object]]) -> list[str]:
    return [b["payload"] for m in messages for b in m.get("buttons") or []]  # type: ignore[union-attr]


def test_a_service_question_is_answered_with_its_source(chat: Chat) -> None:
    said = chat.say("how many days do I have to report damage?")
    text = texts(said)
    assert "7 days" in text
    assert "(Source: Deadlines for claims)" in text
    related = [p for p in payloads(said) if p.startswith("/ask_question")]
    assert len(related) <= 2


def buttons(messages: list[dict[str, object]]) -> list[dict[str, str]]:
    return [b for m in messages for b in m.get("buttons") or []]  # type: ignore[attr-defined]


def test_a_related_title_button_answers_that_passage(chat: Chat) -> None:
    said = chat.say("how much does it cost to send a parcel abroad?")
    related = [b for b in buttons(said) if b["payload"].startswith("/ask_question")]
    assert related, said
    text = chat.choose(related[0])
    assert f"(Source: {related[0]['title']})" in text
    # The same payload again, no longer offered, is read as words, not as that passage's id.
    again = chat.say(related[0]["title"], payload=related[0]["payload"])
    assert texts(again).strip()


def test_no_sure_answer_offers_a_person(chat: Chat) -> None:
    # A fair question about the service that the knowledge base does not cover.
    said = chat.say("do you deliver to the Isle of Man")
    text = texts(said)
    assert "Source:" not in text
    assert OFFER_HUMAN in text
    assert "/human_handoff" in payloads(said)


def test_another_language_gets_no_passage(chat: Chat) -> None:
    # The NLU may call it off-topic or hand it to the knowledge action; never a random passage.
    text = chat.say_text("wo ist mein Paket, ich warte seit einer Woche")
    assert "Source:" not in text
    assert text.startswith(("Sorry, I can only help", messages.KNOWLEDGE_NOT_ENGLISH))


def test_a_damaged_parcel_and_the_claim_rule(chat: Chat, examples: dict[str, Shipment]) -> None:
    number = examples["damaged"].tracking_number
    # ("... arrived damaged, how do I claim?" starts the claim itself: the complaint form.)
    said = chat.say(f"{number} came damaged - what does your claims policy say?")
    assert "(Source: How to make a claim for a damaged or lost parcel)" in texts(said)
    track = f'/track_shipment{{"tracking_number": "{number}"}}'
    assert track in payloads(said)
    assert "/human_handoff" in payloads(said)
    assert f'/file_complaint{{"tracking_number": "{number}"}}' in payloads(said)
    # The button starts tracking with the number already filled in.
    followed = chat.choose(next(b for b in buttons(said) if b["payload"] == track))
    assert number in followed
    assert "Which tracking number" not in followed


def test_an_unsure_parcel_task_is_offered_as_a_button(chat: Chat) -> None:
    # Below the fallback threshold (typos and all), the classifier's best reading is an
    # address change: the knowledge answer comes with that task as a button, and nothing
    # starts until the shipper takes it.
    said = chat.say("chang the adress on my order to my new one")
    assert "(Source: Changing the delivery address)" in texts(said)
    assert OFFER_HUMAN not in texts(said)
    change = next(b for b in buttons(said) if b["payload"] == "/change_delivery_address")
    # The button starts the address change: first, which parcel.
    assert "Which parcel is it about?" in chat.choose(change)


def test_the_action_server_holds_one_encoder(chat: Chat, stack: Stack) -> None:
    """Sanic's manager process imports the actions too; only the worker that serves loads
    torch and the model (a second copy cost about 450 MB)."""
    chat.say("how many days do I have to report damage?")
    pids = [pid for pid, _stat in group_processes(stack.processes["actions"].pid)]
    with_torch = [pid for pid in pids if "libtorch" in maps_of(pid)]
    assert len(pids) >= 2  # the manager and its worker
    assert len(with_torch) == 1, with_torch


def maps_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""
