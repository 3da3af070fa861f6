"""Where Rasa's `callback` output channel delivers bot messages (the URL in credentials.yml)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, status

from backend.api.routes import GatewayDep, SettingsDep
from backend.api.schemas import RasaCallbackMessage

router = APIRouter(prefix="/rasa", include_in_schema=False)


@router.post("/callback/{secret}")
async def rasa_callback(
    secret: str, message: RasaCallbackMessage, gateway: GatewayDep, settings: SettingsDep
) -> dict[str, str]:
    # Compare in constant time so the secret cannot be guessed byte by byte from timings.
    expected = settings.rasa_callback_secret.encode()
    if not hmac.compare_digest(secret.encode(), expected):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
    await gateway.deliver(message.recipient_id, message)
    return {"status": "ok"}
