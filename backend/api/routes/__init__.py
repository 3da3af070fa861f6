"""Routes of the HTTP API, and the dependencies they share (all taken from the app's state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
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


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
GatewayDep = Annotated[RasaGateway, Depends(get_gateway)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
SessionDep = Annotated[Session, Depends(get_db)]
