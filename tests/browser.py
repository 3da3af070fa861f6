"""Browser tests in one place: Debian's chromium driven by playwright, and the widget's moves.

A browser test is marked with `require_browser()`: outside `make test` (which installs both) a
missing chromium or playwright skips it; under `make test` (REQUIRE_BROWSER=1) it fails.
The `browser` fixture lives in tests/conftest.py.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "var" / "artifacts" / "screenshots"
CONVERSATION_KEY = "parcelline-conversation"


def require_browser() -> pytest.MarkDecorator:
    """The mark that skips a browser test where it cannot run (outside `make test`)."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        return pytest.mark.usefixtures()
    missing = CHROMIUM is None or importlib.util.find_spec("playwright") is None
    return pytest.mark.skipif(missing, reason="chromium or playwright is not installed")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


# ------------------------------------------------------------------ the shipper's widget


def open_widget(page: Any) -> None:
    page.get_by_role("button", name="Chat with us").click()
    page.get_by_label("Your message").wait_for()


def send(page: Any, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")


def bubbles(page: Any, who: str) -> list[str]:
    """Texts of the bubbles of `customer`, `bot` or `agent`, without the speaker and time."""
    return page.locator(f".pl-msg--{who} .pl-text").all_inner_texts()


def wait_for_bubbles(page: Any, who: str, count: int, timeout: float = 30_000) -> list[str]:
    page.locator(f".pl-msg--{who}").nth(count - 1).wait_for(timeout=timeout)
    return bubbles(page, who)


def wait_idle(page: Any, timeout: float = 30_000) -> None:
    """Until the assistant has answered (the send button is enabled again)."""
    page.locator(".pl-send:not([disabled])").wait_for(timeout=timeout)


def conversation_id(page: Any) -> str | None:
    return page.evaluate(f"localStorage.getItem('{CONVERSATION_KEY}')")
