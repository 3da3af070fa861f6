"""Fixtures for action tests: a seeded SQLite store and trackers shaped as Rasa sends them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from sqlmodel import Session, select

from backend.config import get_settings
from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.store.seed import seed_database

ROOT = Path(__file__).resolve().parents[2]
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text())


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'actions.db'}"
    seed_database(url, customers=40, shipments=1200, seed=7, anchor=ANCHOR, echo=lambda _: None)
    return url


@pytest.fixture(autouse=True)
def use_store(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _shipment(url: str, status: ShipmentStatus) -> Shipment:
    with Session(get_engine(url)) as session:
        found = session.exec(select(Shipment).where(Shipment.status == status)).first()
        assert found is not None, f"the seed holds no {status} shipment"
        session.expunge(found)
        return found


@pytest.fixture
def in_transit(store_url: str) -> Shipment:
    return _shipment(store_url, ShipmentStatus.in_transit)


@pytest.fixture
def delivered(store_url: str) -> Shipment:
    return _shipment(store_url, ShipmentStatus.delivered)


def make_tracker(
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    new_slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender: str = "conversation-under-test",
) -> Tracker:
    """A tracker as Rasa sends it: `new_slots` are the candidates set this turn."""
    all_slots = {"tracking_attempts": 0, **(slots or {}), **(new_slots or {})}
    events: list[dict[str, Any]] = [{"event": "user", "text": text}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (new_slots or {}).items()]
    return Tracker(
        sender_id=sender,
        slots=all_slots,
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": entities or [],
        },
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def slot_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def texts(dispatcher: Any) -> list[str]:
    return [m.get("text") or "" for m in dispatcher.messages]
