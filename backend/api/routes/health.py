"""Health checks: `/health` for the start-up script and monitoring, `/health/live` for liveness."""

from __future__ import annotations

import asyncio
import logging

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from backend.api.routes import EngineDep, SettingsDep
from backend.api.schemas import DependencyCheck, Health
from backend.config import Settings

router = APIRouter(prefix="/health", tags=["health"])
logger = logging.getLogger("backend.api.health")

RASA_GREETING = "Hello from Rasa"


def _check_database(engine: Engine) -> DependencyCheck:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason goes to the log
        logger.warning("health database down: %s", type(exc).__name__)
        return DependencyCheck(ok=False, detail=f"database unreachable ({type(exc).__name__})")
    return DependencyCheck(ok=True)


async def _check_database_in_time(engine: Engine, timeout: float) -> DependencyCheck:
    # A blackholed database host can hang a connect far longer than a health probe may wait.
    try:
        return await asyncio.wait_for(run_in_threadpool(_check_database, engine), timeout)
    except TimeoutError:
        logger.warning("health database down: no answer within %gs", timeout)
        return DependencyCheck(ok=False, detail=f"database did not answer within {timeout:g}s")


async def _check_rasa(client: httpx.AsyncClient, settings: Settings) -> DependencyCheck:
    """Ready while at least one Rasa server answers (the gateway falls over to it)."""
    faults = []
    for server in settings.rasa_server_list:
        fault = await _rasa_fault(client, server, settings.health_timeout_seconds)
        if fault is None:
            continue
        logger.warning("health rasa %s down: %s", server, fault)
        faults.append(fault)
    if len(faults) == len(settings.rasa_server_list):
        return DependencyCheck(ok=False, detail="; ".join(faults))
    return DependencyCheck(ok=True)


async def _rasa_fault(client: httpx.AsyncClient, server: str, timeout: float) -> str | None:
    try:
        response = await client.get(server + "/", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"rasa unreachable ({type(exc).__name__})"
    if response.status_code != 200 or RASA_GREETING not in response.text:
        return f"rasa answered HTTP {response.status_code}"
    return None


@router.get(
    "",
    response_model=Health,
    summary="Readiness: database and Rasa",
    description="200 with status `ok` when the database answers `SELECT 1` and Rasa answers "
    "its greeting; 503 with status `degraded` and the failing checks otherwise.",
    responses={503: {"model": Health, "description": "A dependency is down."}},
)
async def health(request: Request, engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    database = await _check_database_in_time(engine, settings.health_timeout_seconds)
    rasa = await _check_rasa(request.app.state.http_client, settings)
    report = Health(
        status="ok" if database.ok and rasa.ok else "degraded",
        checks={"database": database, "rasa": rasa},
    )
    code = 200 if report.status == "ok" else 503
    return JSONResponse(report.model_dump(exclude_none=True), status_code=code)


@router.get(
    "/live",
    summary="Liveness: the process answers",
    description="Always 200 while the process serves requests; checks no dependency.",
)
async def live() -> dict[str, str]:
    return {"status": "ok"}
