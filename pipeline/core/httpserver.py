"""uvicorn with deadlines for untrusted clients: a client must finish sending each request
(headers and body) within ``request_timeout_s`` of connecting or of the previous response,
else the connection is closed; at most ``max_connections`` are served at once (503 beyond).

uvicorn itself only times out idle keep-alive connections, so a client dribbling a byte every
few seconds would hold a connection (and a slot) for ever.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

API_REQUEST_TIMEOUT_S = 30.0
"""The API's requests are a URL and at most 64 kB: 30 s is ample even on a poor link."""
API_MAX_CONNECTIONS = 256


def deadline_protocol(request_timeout_s: float) -> type[H11Protocol]:
    """An h11 protocol class closing connections whose request is not complete in time."""

    class DeadlineProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(request_timeout_s, self._expire)

        def _expire(self) -> None:
            # Only a request still arriving is cut: a slow *response* (e.g. waiting for Kafka) is ours.
            if not self.transport.is_closing() and self.conn.their_state not in (h11.DONE, h11.MUST_CLOSE,
                                                                                 h11.CLOSED):
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

    return DeadlineProtocol


def limits(request_timeout_s: float, max_connections: int) -> dict[str, Any]:
    """uvicorn options: request deadlines, a connection cap and a short keep-alive."""
    return {"http": deadline_protocol(request_timeout_s), "limit_concurrency": max_connections,
            "timeout_keep_alive": 5}


def server_config(app: Any, host: str, port: int, *, request_timeout_s: float, max_connections: int,
                  **kwargs: Any) -> uvicorn.Config:
    """A uvicorn config with :func:`limits`."""
    return uvicorn.Config(app, host=host, port=port, **limits(request_timeout_s, max_connections), **kwargs)
