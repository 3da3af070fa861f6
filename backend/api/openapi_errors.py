"""The refusal of an unreadable body, declared in the OpenAPI of every operation with a body.

FastAPI answers a JSON body that is not UTF-8 with 400 before any route code runs, and does not
list it; declaring it keeps the schema honest for every route, a new one included (the schema
fuzz, tests/backend/api/test_openapi_fuzz.py, checks every status code is listed). What a
route's dependencies refuse is declared with the dependencies (routes/auth.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from backend.api.schemas import Problem

UNREADABLE_BODY = "The body could not be read (not UTF-8 JSON)."


def _declare(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Problem", Problem.model_json_schema())
    problem = {"$ref": "#/components/schemas/Problem"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault(
                    "400",
                    {
                        "description": UNREADABLE_BODY,
                        "content": {"application/json": {"schema": problem}},
                    },
                )


def declare_errors(app: FastAPI) -> None:
    """Make `app.openapi()` list the 400 of an unreadable body beside each route's own."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = build()
        if fresh:
            _declare(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
