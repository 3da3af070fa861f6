"""The agent console in a real browser (Debian's chromium) against the real stack: sign-in,
sign-out and lockout; a shipper's handoff taken by an agent, whose reply reaches the shipper's
chat before handing back to the bot; markup typed by a shipper staying inert text; the call
assist for "where is my parcel <number>"; the customer 360 page. Screenshots of every console
page go to var/artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from backend.agents.models import Role
from backend.agents.service import create_agent
from backend.config import Settings
from backend.store.db import get_engine
from backend.store.models import Shipment
from scripts.stack import Stack
from tests.browser import (
    bubbles,
    conversation_id,
    open_widget,
    require_browser,
    send,
    wait_for_bubbles,
)

if TYPE_CHECKING:
    from playwright import sync_api as playwright_api

pytestmark = require_browser()

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "screenshots"
INJECTED = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
SETTINGS = Settings()


@pytest.fixture
def context(
    browser: playwright_api.Browser, stack: Stack
) -> Iterator[playwright_api.BrowserContext]:
    context = browser.new_context(
        base_url=stack.backend_url, viewport={"width": 1366, "height": 900}
    )
    yield context
    context.close()


def new_page(context: playwright_api.BrowserContext) -> tuple[playwright_api.Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


def shoot(page: playwright_api.Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: playwright_api.Page, username: str, password: str) -> None:
    page.goto("/agent/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_agent(page: playwright_api.Page) -> None:
    sign_in(page, SETTINGS.demo_agent_username, SETTINGS.demo_agent_password)
    page.wait_for_url("**/agent")
    page.locator("body[data-ready='true']").wait_for()


def shipper_says(page: playwright_api.Page, text: str) -> None:
    """Type into the widget and wait for the bot's answer."""
    count = len(bubbles(page, "bot"))
    send(page, text)
    wait_for_bubbles(page, "bot", count + 1, timeout=60_000)


def test_sign_in_sign_out(context: playwright_api.BrowserContext) -> None:
    page, errors = new_page(context)
    page.goto("/agent")
    page.wait_for_url("**/agent/login")
    shoot(page, "console-login")
    sign_in(page, SETTINGS.demo_agent_username, "not the password")
    page.get_by_text("Wrong username or password.").wait_for()
    sign_in_agent(page)
    page.get_by_text("Demo Agent (agent)").wait_for()
    assert page.locator("#crm-link").is_hidden()  # the CRM is for managers
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/agent/login")
    page.goto("/agent")
    page.wait_for_url("**/agent/login")  # the session is gone
    assert errors == []


def test_lockout_after_repeated_failures(
    context: playwright_api.BrowserContext, stack: Stack
) -> None:
    with Session(get_engine(stack.database_url)) as session:
        create_agent(session, "browser-lock", "the-right-password", Role.agent, "Lock Test")
        session.commit()
    page, _ = new_page(context)
    for _ in range(4):
        sign_in(page, "browser-lock", "wrong-password")
        page.get_by_text("Wrong username or password.").wait_for()
    sign_in(page, "browser-lock", "wrong-password")
    page.get_by_text(re.compile("account is locked")).wait_for()
    sign_in(page, "browser-lock", "the-right-password")
    page.get_by_text(re.compile("account is locked")).wait_for()
    assert page.url.endswith("/agent/login")


def test_handoff_reply_hand_back_and_inert_markup(
    browser: playwright_api.Browser, context: playwright_api.BrowserContext, stack: Stack,
    examples: dict[str, Shipment],
) -> None:  # fmt: skip
    # The shipper, in a browser of their own, asks for a person.
    shipper_context = browser.new_context(base_url=stack.backend_url)
    shipper, shipper_errors = new_page(shipper_context)
    shipper.goto("/")
    open_widget(shipper)
    shipper_says(shipper, "I want to talk to a person")
    shipper.get_by_text(re.compile("An agent will join this chat in about")).wait_for()
    conversation = conversation_id(shipper)
    shipper_says(shipper, INJECTED)  # the bot still answers while the conversation waits

    # The agent sees it waiting, takes it and reads the transcript.
    agent, agent_errors = new_page(context)
    sign_in_agent(agent)
    href = f"a[href='/agent/conversations/{conversation}']"
    agent.locator(f"#handoff-table {href}").wait_for()
    row = agent.locator("#handoff-table tr", has=agent.locator(href))
    assert "asked" in row.inner_text()
    shoot(agent, "console-queues")
    row.get_by_role("button", name="Take").click()
    agent.wait_for_url(f"**/agent/conversations/{conversation}")
    transcript = agent.locator("#transcript")
    transcript.get_by_text("I want to talk to a person").wait_for()
    transcript.get_by_text(INJECTED).wait_for()  # shown as text
    assert transcript.locator("img, script").count() == 0
    assert agent.evaluate("window.__pwned") is None

    # While held, the shipper's words reach the agent, not the bot.
    send(shipper, "Hello? Is someone there?")
    transcript.get_by_text("Hello? Is someone there?").wait_for(timeout=15_000)
    agent.get_by_label("Your reply to the customer").fill("Hi, I'm Demo Agent. Let me look.")
    agent.get_by_role("button", name="Send").click()
    shipper.get_by_text("Hi, I'm Demo Agent. Let me look.").wait_for(timeout=15_000)
    shipper.get_by_text(re.compile("has joined the chat")).wait_for()
    assert transcript.get_by_text(re.compile("has joined the chat")).count() == 1
    shoot(agent, "console-conversation")

    # Handed back: the bot answers again.
    agent.get_by_role("button", name="Hand back to the bot").click()
    agent.get_by_text(re.compile(r"H-\d\d-\d{5}: returned")).wait_for()
    shipper.get_by_text(re.compile("handed you back to the assistant")).wait_for(timeout=15_000)
    number = examples["in transit"].tracking_number
    shipper_says(shipper, f"where is my parcel {number}")
    shipper.locator(".pl-msg--bot", has_text=number).last.wait_for()
    assert shipper.evaluate("window.__pwned") is None
    shipper_context.close()
    assert agent_errors == [] and shipper_errors == []


def test_assist_panel_for_a_parcel_question(
    context: playwright_api.BrowserContext, examples: dict[str, Shipment]
) -> None:
    page, errors = new_page(context)
    sign_in_agent(page)
    number = examples["in transit"].tracking_number
    page.get_by_label("What the caller says").fill(f"where is my parcel {number}")
    page.locator(f"#assist-shipments [data-tracking='{number}']").wait_for()
    page.locator("#assist-intent", has_text="track_shipment").wait_for()
    assert number in page.locator("#assist-reply").inner_text()
    assert page.locator("#assist-passages li").count() == 3
    assert page.locator("#assist-customers li").count() >= 1
    shoot(page, "console-assist")

    # A complaint opens its form, prefilled.
    damaged = examples["damaged"].tracking_number
    page.get_by_label("What the caller says").fill(f"my parcel {damaged} arrived crushed")
    page.locator(f"#assist-shipments [data-tracking='{damaged}']").wait_for()
    page.get_by_role("button", name="Open the complaint form").click()
    assert page.locator("#cf-category").input_value() == "damaged"
    assert page.locator("#cf-tracking").input_value() == damaged
    assert errors == []


def test_customer_search_and_360(
    context: playwright_api.BrowserContext, examples: dict[str, Shipment]
) -> None:
    page, errors = new_page(context)
    sign_in_agent(page)
    number = examples["delivered on time"].tracking_number
    page.get_by_label("Name, phone, e-mail or tracking number").fill(number)
    page.get_by_role("button", name="Search").click()
    page.locator("#search-results a").first.click()
    page.wait_for_url("**/agent/customers/*")
    page.locator("body[data-ready='true']").wait_for()
    assert page.locator("#shipments tbody tr").count() >= 1
    assert "Tier" in page.locator("#customer-facts").inner_text()
    shoot(page, "console-customer")
    assert errors == []
