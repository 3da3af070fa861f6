"""The widget on the demo page in a real browser (Debian's chromium driven by playwright),
against a real backend and a fake Rasa over HTTP. The real assistant: tests/e2e."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from backend.api.rate_limit import rate_limited_reply
from tests.backend.api.conftest import CALLBACK_SECRET, Backend
from tests.browser import (
    DESKTOP,
    PHONE,
    bubbles,
    conversation_id,
    open_widget,
    require_browser,
    send,
    wait_for_bubbles,
    wait_idle,
)

pytestmark = require_browser()

NO_WEBSOCKET = "delete window.WebSocket;"


@pytest.fixture
def make_page(browser: Any, backend: Backend) -> Iterator[Callable[..., Any]]:
    contexts = []
    errors: list[str] = []

    def make(viewport: dict[str, int] = PHONE, init_script: str | None = None, url: str = ""):
        context = browser.new_context(viewport=viewport, base_url=url or backend.url)
        if init_script:
            context.add_init_script(init_script)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
        # The demo page's Content-Security-Policy must let the widget work (sockets included).
        page.on(
            "console",
            lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto("/")
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == []


@pytest.fixture
def page(make_page: Callable[..., Any]) -> Any:
    page = make_page()
    open_widget(page)
    return page


def proactive(backend: Backend, conversation: str, text: str) -> None:
    with httpx.Client(trust_env=False) as client:
        client.post(
            f"{backend.url}/rasa/callback/{CALLBACK_SECRET}",
            json={"recipient_id": conversation, "text": text},
        ).raise_for_status()


def test_markup_typed_or_echoed_is_shown_as_text_and_never_runs(page) -> None:
    attacks = [
        "<script>alert('pwned')</script>",
        "<img src=x onerror=\"document.title='pwned'\"><b>bold</b>",
    ]
    for n, attack in enumerate(attacks, start=1):
        send(page, attack)
        assert wait_for_bubbles(page, "bot", n)[-1] == f"echo: {attack}"
        wait_idle(page)
    assert bubbles(page, "customer") == attacks
    assert page.locator(".pl-log img, .pl-log b, .pl-log script").count() == 0
    assert page.title() != "pwned"


def test_links_are_clickable_only_for_http_and_open_safely(page) -> None:
    send(page, "see https://example.com/help. and javascript:alert(1) or http://x.test/a?b=1")
    wait_for_bubbles(page, "bot", 1)
    links = page.locator(".pl-msg--bot a")
    assert links.count() == 2
    assert links.nth(0).get_attribute("href") == "https://example.com/help"
    assert links.nth(1).inner_text() == "http://x.test/a?b=1"
    for n in range(2):
        assert links.nth(n).get_attribute("rel") == "noopener noreferrer"
        assert links.nth(n).get_attribute("target") == "_blank"


def test_quick_replies_send_their_payload_and_show_their_title(page, rasa, backend) -> None:
    send(page, "buttons")
    page.get_by_role("button", name="Yes").click()
    wait_for_bubbles(page, "bot", 2)

    assert rasa.messages_from(conversation_id(page)) == ["buttons", "/affirm"]
    assert bubbles(page, "customer")[-1] == "Yes"
    # The payload travelled beside the title: the transcript has the customer's words.
    history = backend.get(f"/api/chat/{conversation_id(page)}/history").json()["messages"]
    assert [m["text"] for m in history if m["sender"] == "customer"] == ["buttons", "Yes"]
    assert page.get_by_role("button", name="No").is_disabled()
    # Every bubble carries its time.
    assert page.locator(".pl-msg--bot time").first.get_attribute("datetime")


def test_reload_restores_the_conversation_and_proactive_messages_arrive(make_page, backend) -> None:
    page = make_page()
    open_widget(page)
    send(page, "hello")
    wait_for_bubbles(page, "bot", 1)
    conversation = conversation_id(page)
    assert conversation and len(conversation) == 32

    with page.expect_websocket() as opened:
        page.reload()
    # History first, then the socket asks only for what came after it.
    assert f"/api/chat/ws?conversation_id={conversation}&after=" in opened.value.url
    # The panel was open, so it opens again, with the history.
    assert wait_for_bubbles(page, "bot", 1) == ["echo: hello"]
    assert bubbles(page, "customer") == ["hello"]
    page.locator("[data-parcelline-root][data-transport='websocket']").wait_for(state="attached")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.url.endswith("/messages") else None)
    proactive(backend, conversation, "How did we do?")
    assert wait_for_bubbles(page, "bot", 2)[-1] == "How did we do?"
    assert polls == []  # pushed over the socket, not polled
    assert conversation_id(page) == conversation
    assert bubbles(page, "bot") == ["echo: hello", "How did we do?"]  # nothing twice


def test_a_message_for_a_closed_widget_shows_a_badge(make_page, backend) -> None:
    page = make_page()
    open_widget(page)
    send(page, "hello")
    wait_for_bubbles(page, "bot", 1)
    page.keyboard.press("Escape")
    launcher = page.get_by_role("button", name="Chat with us")
    assert launcher.is_visible()
    proactive(backend, conversation_id(page), "An agent replied")
    page.get_by_role("button", name="Chat with us (1 new)").wait_for(timeout=5000)


def test_without_websocket_it_posts_and_polls(make_page, backend) -> None:
    page = make_page(init_script=NO_WEBSOCKET)
    open_widget(page)
    send(page, "hello over http")
    assert wait_for_bubbles(page, "bot", 1) == ["echo: hello over http"]
    proactive(backend, conversation_id(page), "Polled to you")
    assert wait_for_bubbles(page, "bot", 2, timeout=10_000)[-1] == "Polled to you"


def test_network_failure_shows_the_apology(make_page, backend) -> None:
    page = make_page(init_script=NO_WEBSOCKET)
    page.route("**/api/chat", lambda route: route.abort())
    open_widget(page)
    send(page, "hello")
    [apology] = wait_for_bubbles(page, "bot", 1)
    assert backend.settings.support_phone in apology


def test_over_the_rate_limit_a_polite_notice(make_page, start_backend) -> None:
    limited = start_backend(chat_rate_per_conversation=2)
    page = make_page(url=limited.url)
    open_widget(page)
    for n in range(3):
        send(page, f"message {n}")
        wait_for_bubbles(page, "bot", n + 1)
        wait_idle(page)
    assert bubbles(page, "bot") == ["echo: message 0", "echo: message 1", rate_limited_reply().text]
    assert limited.rasa is not None
    assert limited.rasa.messages_from(conversation_id(page)) == ["message 0", "message 1"]


def test_keyboard_only_at_360_px(make_page) -> None:
    page = make_page(viewport=PHONE)
    page.keyboard.press("Tab")
    launcher = page.get_by_role("button", name="Chat with us")
    # The demo page's links come first; tab on until the launcher has focus.
    for _ in range(10):
        if launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
        page.keyboard.press("Tab")
    assert launcher.get_attribute("aria-expanded") == "false"
    page.keyboard.press("Enter")
    message = page.get_by_label("Your message")
    assert message.evaluate("el => el.getRootNode().activeElement === el")  # focus moved in
    page.keyboard.type("buttons")
    page.keyboard.press("Enter")
    wait_for_bubbles(page, "bot", 1)
    wait_idle(page)
    # Tab from the input reaches Send; Shift+Tab the quick replies just above it.
    page.keyboard.press("Tab")
    assert page.locator(".pl-send").evaluate("el => el.getRootNode().activeElement === el")
    message.focus()
    page.keyboard.press("Shift+Tab")
    focused = "() => document.querySelector('[data-parcelline-root]').shadowRoot.activeElement"
    assert page.evaluate(f"{focused}.textContent") == "No"
    page.keyboard.press("Enter")
    assert wait_for_bubbles(page, "customer", 2)[-1] == "No"
    # The panel fills the phone screen without sideways scrolling; long words wrap.
    wait_idle(page)
    send(page, "x" * 300 + " " + "LP" * 80)
    wait_for_bubbles(page, "bot", 3)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator(".pl-panel").bounding_box()
    assert box is not None and box["width"] <= PHONE["width"]
    assert page.locator(".pl-log").get_attribute("aria-live") == "polite"
    # Escape closes the chat and gives focus back to the launcher.
    page.keyboard.press("Escape")
    assert page.locator(".pl-panel").is_hidden()
    assert launcher.evaluate("el => el.getRootNode().activeElement === el")


def test_the_host_pages_css_does_not_reach_the_widget(make_page) -> None:
    page = make_page(viewport=DESKTOP)
    open_widget(page)
    font = page.locator(".pl-send").evaluate("el => getComputedStyle(el).fontFamily")
    assert "Impact" not in font  # the demo page sets Impact on every button, !important


def test_each_visitor_gets_a_new_conversation(browser, backend) -> None:
    ids = []
    for _ in range(2):
        context = browser.new_context(base_url=backend.url)
        page = context.new_page()
        page.goto("/")
        open_widget(page)
        send(page, f"hi {uuid.uuid4().hex[:6]}")
        wait_for_bubbles(page, "bot", 1)
        ids.append(conversation_id(page))
        context.close()
    assert ids[0] and ids[1] and ids[0] != ids[1]
