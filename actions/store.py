"""Access to the customer store from actions: one short session per action run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from backend.store.db import session_scope

logger = logging.getLogger(__name__)

# Raised by the store when the database is unreachable or misbehaves; actions turn it
# into an apology instead of letting the turn fail silently.
StoreError = SQLAlchemyError


@contextmanager
def store_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session
