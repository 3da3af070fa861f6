"""The chat page in a real browser (Debian's chromium driven by playwright), phone-sized.

Skipped where chromium or playwright is not installed.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

CHROMIUM = shutil.which("chromium")
if os.environ.get("REQUIRE_BROWSER") != "1":
    # Outside `make test` (which installs both), a missing browser skips these tests.
    pytest.importorskip("playwright.sync_api")
    pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
from playwright import sync_api as playwright_api  # noqa: E402

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, backend):
    context = browser.new_context(viewport=PHONE, base_url=backend.url)
    page = context.new_page()
    page.goto("/")
    yield page
    context.close()


def send(page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")


def bubbles(page, who: str) -> list[str]:
    # The visually-hidden speaker label ("You: ") is part of each bubble's text.
    return page.locator(f".msg--{who}").all_inner_texts()


def wait_for_bubbles(page, who: str, count: int) -> list[str]:
    page.locator(f".msg--{who}").nth(count - 1).wait_for()
    return bubbles(page, who)


def test_markup_in_messages_is_shown_as_text(page):
    attack = "<img src=x onerror=\"document.title='pwned'\"><b>bold</b>"
    send(page, attack)
    [bot] = wait_for_bubbles(page, "bot", 1)

    assert bubbles(page, "user")[0].endswith(attack)
    assert bot.endswith(f"echo: {attack}")
    assert page.locator("#log img, #log b").count() == 0
    assert page.title() != "pwned"


def test_quick_replies_send_their_payload_and_show_their_title(page, rasa):
    send(page, "buttons")
    page.get_by_role("button", name="Yes").click()
    wait_for_bubbles(page, "bot", 2)

    conversation = page.evaluate("localStorage.getItem('parcel-chat-conversation-id')")
    assert rasa.messages_from(conversation) == ["buttons", "/affirm"]
    assert bubbles(page, "user")[-1].endswith("Yes")
    assert page.get_by_role("button", name="No").is_disabled()


def test_conversation_survives_a_reload_and_receives_proactive_messages(page, backend):
    send(page, "hello")
    wait_for_bubbles(page, "bot", 1)
    conversation = page.evaluate("localStorage.getItem('parcel-chat-conversation-id')")
    assert conversation and len(conversation) == 32

    page.reload()
    callback = f"{backend.url}/rasa/callback/{backend.settings.rasa_callback_secret}"
    with httpx.Client(trust_env=False) as client:
        client.post(callback, json={"recipient_id": conversation, "text": "How did we do?"})
    started = time.monotonic()
    [survey] = wait_for_bubbles(page, "bot", 1)  # the log starts empty after a reload
    assert survey.endswith("How did we do?")
    assert time.monotonic() - started < 10


def test_network_failure_shows_the_apology(page, backend):
    page.route("**/api/chat", lambda route: route.abort())
    send(page, "hello")
    [apology] = wait_for_bubbles(page, "bot", 1)
    assert backend.settings.support_phone in apology


def test_fits_a_phone_screen(page):
    send(page, "x" * 300 + " " + "LP" * 80)  # long unbroken words must wrap, not scroll sideways
    wait_for_bubbles(page, "bot", 1)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#log").get_attribute("aria-live") == "polite"


def test_each_visitor_gets_a_new_conversation(browser, backend):
    ids = []
    for _ in range(2):
        context = browser.new_context(base_url=backend.url)
        page = context.new_page()
        page.goto("/")
        send(page, f"hi {uuid.uuid4().hex[:6]}")
        wait_for_bubbles(page, "bot", 1)
        ids.append(page.evaluate("localStorage.getItem('parcel-chat-conversation-id')"))
        context.close()
    assert ids[0] != ids[1]
