"""Fixtures for the survey store tests (the store fixtures come from tests/backend/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from backend.store.models import ShipmentStatus

NOW = datetime(2025, 6, 11, 11, 0, tzinfo=UTC)


@pytest.fixture
def delivered_shipment(make_shipment: Any) -> Any:
    return make_shipment(status=ShipmentStatus.delivered, delivered_at=NOW - timedelta(hours=1))


@pytest.fixture
def fresh_session(store_url: str) -> Any:
    """A second, independent session on the same store (another process, in effect)."""
    from backend.store.db import get_engine

    with Session(get_engine(store_url)) as other:
        yield other
