"""What the API adds to every response (security headers) and how it labels metrics (bounded).

The body size limit is FastAPI's own ``max_body_size`` (:data:`MAX_BODY_BYTES`): a declared
``Content-Length`` over it is refused before anything is read, a chunked body as it streams in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_BYTES = 64 * 1024
"""No API route takes more than a small JSON object (an ack note is at most 2,000 characters)."""
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

DASHBOARD_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
                 "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                 "form-action 'self'; frame-ancestors 'none'")
"""Everything from this origin only; inline style attributes (chart colours) are the one exception."""
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]
CSP_EXEMPT = ("/docs", "/redoc")
"""FastAPI's interactive docs load their scripts from a CDN: no CSP there (they hold no data)."""


def method_label(method: str) -> str:
    """The method as a metric label: unknown methods share one series."""
    return method if method in KNOWN_METHODS else "OTHER"


class SecurityHeaders:
    """ASGI middleware: security headers on every response (CSP except on the interactive docs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = not str(scope.get("path", "")).startswith(CSP_EXEMPT)
        ours = {k for k, _ in SECURITY_HEADERS}

        async def secured_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in ours]
                headers += SECURITY_HEADERS
                if csp:
                    headers.append((b"content-security-policy", DASHBOARD_CSP.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured_send)
