"""Embedded mode: serve the API from inside the Faust worker, on the worker's event loop.

The worker owns the embedded chDB (one process per data path), so the API must live in the same
process; it shares the worker's Repository and Prometheus registry.
"""

from __future__ import annotations

from typing import Any

from faust.contrib.asgi import AsgiService

from pipeline.api.app import create_api
from pipeline.core.httpserver import API_MAX_CONNECTIONS, API_REQUEST_TIMEOUT_S, limits


def api_service(worker: Any) -> type[AsgiService]:
    """A mode.Service class serving the API on ``settings.api_host:api_port`` (uvicorn, no signal handlers)."""
    s = worker.settings
    return type("HypermicroApiService", (AsgiService,), {
        "asgi_app": create_api(worker.repository, s),
        "host": s.api_host, "port": s.api_port,
        "uvicorn_options": {"log_level": "warning", "access_log": False,
                            **limits(API_REQUEST_TIMEOUT_S, API_MAX_CONNECTIONS)},
    })


def attach_api(worker: Any) -> type[AsgiService]:
    """Start the API with the worker's app (``@app.service``); the repository comes from ``await worker.repository()``."""
    return worker.app.service(api_service(worker))
