"""The embeddable widget script and the demo carrier page that embeds it.

`/widget.js` is the one URL a carrier puts in its page. It is served with `no-cache` and an
ETag, so browsers revalidate it and pick up a new version at once; its stylesheet is linked
with the content hash in its query string, so it may be cached and never goes stale.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from backend.api.rasa_gateway import apology_text
from backend.config import Settings

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
WIDGET_DIR = STATIC_DIR / "widget"
# The page renders with textContent only; the policy is a second fence against injected markup.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' https: data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def widget_script(settings: Settings) -> str:
    """widget.js with the apology and the stylesheet's version filled in."""
    script = (WIDGET_DIR / "widget.js").read_text(encoding="utf-8")
    css_version = hashlib.sha256((WIDGET_DIR / "widget.css").read_bytes()).hexdigest()[:16]
    # json.dumps makes a valid JS string literal of any text (quotes, backslashes, newlines).
    return script.replace('"__APOLOGY__"', json.dumps(apology_text(settings))).replace(
        "__CSS_VERSION__", css_version
    )


def router(settings: Settings) -> APIRouter:
    routes = APIRouter(include_in_schema=False)
    script = widget_script(settings).encode()
    etag = '"' + hashlib.sha256(script).hexdigest()[:32] + '"'
    page = (STATIC_DIR / "index.html").read_bytes()

    @routes.get("/widget.js")
    async def widget(request: Request) -> Response:
        headers = {
            "Cache-Control": "no-cache",
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)

    @routes.get("/")
    async def demo_page() -> HTMLResponse:
        return HTMLResponse(
            page, headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
        )

    return routes
