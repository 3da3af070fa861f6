"""Bearer-token check for internal endpoints (carrier systems, scheduled jobs), not browsers."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status

from backend.api.routes import SettingsDep


def require_internal_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    expected = f"Bearer {settings.internal_api_token}".encode()
    given = (authorization or "").encode()
    if not settings.internal_api_token or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "This endpoint needs the internal API token (Authorization: Bearer ...).",
            headers={"WWW-Authenticate": "Bearer"},
        )


InternalAuth = Depends(require_internal_token)
Internal = Annotated[None, InternalAuth]
