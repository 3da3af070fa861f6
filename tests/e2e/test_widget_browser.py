"""The shipper's widget on the demo page in a real browser, through the real stack (action
server, Rasa, backend): tracking and a complaint, a survey arriving on its own, a reload, a
backend restart mid-conversation. Screenshots go to var/artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backend.store.models import Shipment, ShipmentStatus
from scripts.stack import Stack
from tests.browser import (
    DESKTOP,
    PHONE,
    bubbles,
    conversation_id,
    open_widget,
    require_browser,
    screenshot,
    send,
    wait_for_bubbles,
    wait_idle,
)
from tests.e2e.test_surveys_chat import AUTH, spare_shipment

pytestmark = require_browser()

REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")


@pytest.fixture
def make_page(browser: Any, stack: Stack) -> Iterator[Callable[..., Any]]:
    contexts = []
    errors: list[str] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, base_url=stack.backend_url)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
        page.goto("/")
        open_widget(page)
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == []


def last_bot(page: Any, count: int) -> str:
    text = wait_for_bubbles(page, "bot", count)[-1]
    wait_idle(page)
    return text


def phone_end(parcel: Shipment) -> str:
    return "".join(ch for ch in parcel.consignee_phone if ch.isdigit())[-4:]


def test_a_shipper_tracks_a_parcel_and_files_a_complaint(
    make_page: Callable[..., Any], e2e_store: str, examples: dict[str, Shipment]
) -> None:
    page = make_page(DESKTOP)
    moving = examples["in transit"].tracking_number
    send(page, f"where is my parcel {moving}")
    assert moving in last_bot(page, 1)

    # A parcel of its own, so other tests never meet this complaint.
    late = spare_shipment(e2e_store, ShipmentStatus.delivered, examples, skip=5).tracking_number
    send(page, f"my parcel {late} arrived four days late and I missed an important appointment")
    assert "get back to you" in last_bot(page, 2)
    page.get_by_role("button", name="Here in the chat").click()
    last_bot(page, 3)
    # The confirmation, and for an A-tier customer the handoff that follows it.
    filed = " ".join(bubbles(page, "bot")[2:])
    assert REFERENCE.search(filed), filed
    assert bubbles(page, "customer")[-1] == "Here in the chat"
    screenshot(page, "widget-desktop")

    phone = make_page(PHONE)
    send(phone, f"where is my parcel {moving}")
    assert moving in last_bot(phone, 1)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "widget-360px")


def test_a_survey_arrives_on_its_own_in_the_open_widget(
    make_page: Callable[..., Any], stack: Stack, e2e_store: str, examples: dict[str, Shipment]
) -> None:
    parcel = spare_shipment(e2e_store, ShipmentStatus.in_transit, examples, skip=5)
    page = make_page()
    # The recipient proves who they are, so the survey may start in this chat.
    send(page, f"who is {parcel.tracking_number} addressed to?")
    assert "last four digits" in last_bot(page, 1)
    send(page, phone_end(parcel))
    assert parcel.consignee_name in last_bot(page, 2)

    event = {
        "tracking_number": parcel.tracking_number,
        "code": "DL",
        "occurred_at": datetime.now(UTC).isoformat(),
        "location": parcel.destination_city,
    }
    with httpx.Client(base_url=stack.backend_url, timeout=60) as carrier:
        posted = carrier.post("/api/tracking-events", json=event, headers=AUTH).json()
    assert posted["survey_sent_via"] == "chat", posted
    page.get_by_role("button", name="5 ★★★★★").wait_for(timeout=15_000)
    said = "\n".join(bubbles(page, "bot")[2:])
    assert parcel.tracking_number in said and "how satisfied" in said.lower()
    shown = len(bubbles(page, "bot"))
    page.get_by_role("button", name="5 ★★★★★").click()
    assert "on time" in last_bot(page, shown + 1).lower()


def test_reload_restores_the_conversation_and_it_carries_on(
    make_page: Callable[..., Any], examples: dict[str, Shipment]
) -> None:
    page = make_page()
    number = examples["out for delivery"].tracking_number
    send(page, f"where is my parcel {number}")
    first = last_bot(page, 1)
    conversation = conversation_id(page)
    attack = "<img src=x onerror=\"document.title='pwned'\"><script>alert(1)</script>"
    send(page, attack)
    last_bot(page, 2)

    page.reload()
    assert wait_for_bubbles(page, "bot", 2)[0] == first
    assert bubbles(page, "customer") == [f"where is my parcel {number}", attack]
    assert page.locator(".pl-log img, .pl-log script").count() == 0
    assert page.title() != "pwned"
    assert conversation_id(page) == conversation
    send(page, "thanks")
    last_bot(page, 3)


def test_a_restarted_backend_is_reconnected_and_the_conversation_continues(
    make_page: Callable[..., Any], stack: Stack, e2e_store: str, examples: dict[str, Shipment]
) -> None:
    parcel = spare_shipment(e2e_store, ShipmentStatus.in_transit, examples, skip=6)
    page = make_page()
    send(page, f"who is {parcel.tracking_number} addressed to?")
    assert "last four digits" in last_bot(page, 1)
    conversation = conversation_id(page)

    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    stack.restart("backend")  # every socket drops; the widget reconnects with backoff
    deadline = time.monotonic() + 60
    while not any(not ws.is_closed() for ws in sockets) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    [reopened] = [ws for ws in sockets if not ws.is_closed()]
    assert f"conversation_id={conversation}" in reopened.url
    page.locator(".pl-status", has_text="reconnecting").wait_for(state="hidden")
    send(page, phone_end(parcel))  # the answer to the question asked before the restart
    assert parcel.consignee_name in last_bot(page, 2)
    assert conversation_id(page) == conversation
    assert len(bubbles(page, "customer")) == 2  # nothing lost, nothing twice
