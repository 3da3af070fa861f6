"""Logging of the HTTP app: one readable line per request and per chat turn, on stderr.

What customers type never reaches the log at INFO: lines carry conversation ids, lengths, counts
and timings. Paths are logged as route templates (`/rasa/callback/{secret}`), so neither the
callback secret nor tracking numbers land in the log.
"""

from __future__ import annotations

import logging
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGGER_NAME = "backend"
# The process id tells several backend workers apart (BACKEND_WORKERS).
_FORMAT = "%(asctime)s %(levelname)-7s [%(process)d] %(name)s: %(message)s"

request_logger = logging.getLogger("backend.api.request")
# Polled every few seconds by each open widget or probe: only worth a line when they fail.
QUIET_ROUTES = {"/api/chat/{conversation_id}/messages", "/health/live"}


def setup_logging(level: str = "INFO") -> None:
    """Send the backend's loggers to stderr; idempotent, so create_app may run many times."""
    root = logging.getLogger(LOGGER_NAME)
    root.setLevel(level.upper())
    if not any(getattr(h, "_backend_api", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._backend_api = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.propagate = False
    silence_access_log()


def silence_access_log() -> None:
    # Uvicorn's access log prints raw paths, which would leak the callback secret;
    # RequestLogMiddleware logs the same requests with route templates instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class RequestLogMiddleware:
    """Logs every request once it has answered.

    Plain ASGI rather than BaseHTTPMiddleware, which would wrap every response in a stream.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            route = scope.get("route")
            path = getattr(route, "path", None) or _unrouted(scope["path"])
            level = logging.WARNING if status >= 500 else logging.INFO
            if path in QUIET_ROUTES and status < 400:
                level = logging.DEBUG
            request_logger.log(
                level,
                "%s %s %d %.0fms",
                scope["method"],
                path,
                status,
                (time.perf_counter() - started) * 1000,
            )

        async def send_and_remember(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Logged before the last byte leaves, so the line exists once the client has
                # its answer.
                log()
            await send(message)

        try:
            await self.app(scope, receive, send_and_remember)
        finally:
            if not logged:
                log()


def _unrouted(path: str) -> str:
    # Static files keep their path; anything else unmatched is summarised, not echoed.
    return path if path == "/" or path.startswith("/static/") else "<unmatched>"
