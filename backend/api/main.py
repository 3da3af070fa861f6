"""The FastAPI application: `create_app(settings)` builds it, `app` is what uvicorn serves.

    uvicorn backend.api.main:app --host 127.0.0.1 --port 8000 --workers 1 --no-access-log

Settings come from the environment through `get_settings()` unless `create_app` is given a
`Settings` object (tests build one app per configuration that way). With the gateway's state in
memory (the embedded default) run one worker; with it in Redis (production, GATEWAY_STATE) any
number (`--workers N`, BACKEND_WORKERS under `make run-prod`; see conversation_bus).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from backend.agents.service import ensure_demo_agents
from backend.api.conversation_bus import BusUnavailable, make_bus, shared_redis
from backend.api.logging import RequestLogMiddleware, setup_logging, silence_access_log
from backend.api.login_throttle import LoginThrottle
from backend.api.openapi_errors import declare_errors
from backend.api.rasa_gateway import RasaGateway
from backend.api.rate_limit import make_rate_limiter
from backend.api.routes import (
    agent_console,
    agents,
    chat,
    complaints,
    handoffs,
    health,
    rasa_callback,
    shipments,
    surveys,
    tracking_events,
    widget,
)
from backend.api.routes import crm as crm_routes
from backend.api.routes import knowledge as knowledge_routes
from backend.config import DEMO_SECRETS, Settings, get_settings
from backend.store.db import get_engine, serialise_startup

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DATABASE_UNAVAILABLE = (
    "The customer database is unavailable right now. Please try again in a few minutes."
)
CHAT_STATE_UNAVAILABLE = "The chat service is unavailable right now. Please try again shortly."

logger = logging.getLogger("backend.api")

DESCRIPTION = """
Gateway between the customer chat widget and the Rasa assistant, plus the public
parcel-tracking view. The widget talks only to this backend; the backend talks to Rasa.
"""


def create_app(
    settings: Settings | None = None, rasa_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`rasa_transport` replaces the network between the gateway and Rasa (an in-process fake
    Rasa for the OpenAPI fuzz); by default it is real HTTP."""
    settings = settings or get_settings()
    setup_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Uvicorn configures its loggers after importing the app; silence its access log again.
        silence_access_log()
        app.state.engine = get_engine(settings.database_url)
        # One client per worker process, made here: its connections belong to this event loop.
        redis = shared_redis(settings)
        bus = make_bus(settings, redis)
        app.state.rate_limiter = make_rate_limiter(settings, redis)
        # trust_env=False: Rasa is an internal service, never reached through a proxy.
        async with httpx.AsyncClient(trust_env=False, transport=rasa_transport) as client:
            app.state.http_client = client
            await bus.start()
            try:
                app.state.gateway = RasaGateway(settings, client, app.state.engine, bus)
                app.state.gateway.bind_loop()
                await asyncio.to_thread(_ensure_demo_agents, app.state.engine, settings)
                logger.info(
                    "backend ready, rasa at %s, gateway state in %s",
                    settings.rasa_url,
                    "memory" if redis is None else "redis",
                )
                yield
            finally:
                await bus.close()
                if redis is not None:
                    await redis.aclose()

    ignored = [
        n.upper() for n in sorted(DEMO_SECRETS) if getattr(settings, n) and not settings.secret(n)
    ]
    if settings.production and ignored:
        logger.warning("production mode: no built-in demo value opens anything; set %s", ignored)

    app = FastAPI(
        title="Parcel assistant backend",
        description=DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.login_throttle = LoginThrottle(
        settings.login_max_failures_per_ip, settings.login_failure_window_minutes * 60
    )
    app.add_middleware(RequestLogMiddleware)
    if settings.widget_origin_list:
        # Carriers' sites that embed the widget call the chat API from their own origin.
        # No credentials: the conversation id in the request is the only key.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.widget_origin_list,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(BusUnavailable, _chat_state_unavailable)

    app.include_router(chat.router)
    app.include_router(shipments.router)
    app.include_router(health.router)
    app.include_router(rasa_callback.router)
    app.include_router(complaints.router)
    app.include_router(surveys.router)
    app.include_router(tracking_events.router)
    app.include_router(knowledge_routes.router)
    app.include_router(crm_routes.router)
    app.include_router(widget.router(settings))
    app.include_router(agents.router)
    app.include_router(handoffs.router)
    app.include_router(agent_console.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    declare_errors(app)
    return app


def _ensure_demo_agents(engine: Engine, settings: Settings) -> None:
    """The demo agent and manager (from the settings) exist once the store is migrated."""
    try:
        with Session(engine) as session:
            # Every backend worker runs this at start: one at a time, so none inserts twice.
            serialise_startup(session.connection())
            created = ensure_demo_agents(session, settings)
            session.commit()
    except DBAPIError as exc:  # a store not migrated yet, or down: the console waits for it
        logger.warning("demo agents not created: %s", type(exc).__name__)
        return
    if created:
        logger.info("demo agent accounts created: %s", ", ".join(created))


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # OperationalError (connection refused, missing tables) and every other driver error.
    # The driver's first line says why; the statement and its parameters stay out of the log.
    route = getattr(request.scope.get("route"), "path", "?")
    reason = (str(getattr(exc, "orig", None) or "").splitlines() or ["?"])[0]
    logger.error("database error on %s: %s: %s", route, type(exc).__name__, reason)
    return JSONResponse(
        {"detail": DATABASE_UNAVAILABLE}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
    )


async def _chat_state_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Redis, where production keeps the gateway's state, did not answer.
    route = getattr(request.scope.get("route"), "path", "?")
    logger.error("chat state unavailable on %s: %s", route, exc)
    return JSONResponse(
        {"detail": CHAT_STATE_UNAVAILABLE}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
    )


app = create_app()
