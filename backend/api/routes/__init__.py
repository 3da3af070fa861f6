"""Routes of the HTTP API, and the dependencies they share (all taken from the app's state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backend.api.rasa_gateway import RasaGateway
from backend.config import Settings


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_gateway(request: Request) -> RasaGateway:
    return request.app.state.gateway


def get_engine_dep(request: Request) -> Engine:
    return request.app.state.engine


def get_db(engine: Annotated[Engine, Depends(get_engine_dep)]) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


# The largest row id (PostgreSQL INTEGER): a larger number in a URL is refused as invalid
# instead of reaching the database, where SQLite overflows and PostgreSQL refuses it.
MAX_ROW_ID = 2_147_483_647
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def invalid(loc: tuple[str, ...], message: str, value: object) -> RequestValidationError:
    """A 422 shaped like FastAPI's own validation errors, so one schema describes every 422."""
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": message, "input": value}]
    )


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
GatewayDep = Annotated[RasaGateway, Depends(get_gateway)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
SessionDep = Annotated[Session, Depends(get_db)]
