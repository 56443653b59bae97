"""Embedded mode: serve the API from inside the Faust worker, on the worker's event loop.

The worker owns the embedded chDB (one process per data path), so the API must live in the same
process; it shares the worker's Repository and Prometheus registry.
"""

from __future__ import annotations

import faust
from faust.contrib.asgi import AsgiService

from pipeline.api.app import create_api
from pipeline.core.httpserver import API_MAX_CONNECTIONS, API_REQUEST_TIMEOUT_S, limits
from pipeline.core.settings import Settings
from pipeline.storage.repository import RepositoryProvider


def api_service(settings: Settings, repository: RepositoryProvider) -> type[AsgiService]:
    """A mode.Service class serving the API on ``settings.api_host:api_port`` (uvicorn, no signal handlers)."""
    return type("HypermicroApiService", (AsgiService,), {
        "asgi_app": create_api(repository, settings),
        "host": settings.api_host, "port": settings.api_port,
        "uvicorn_options": {"log_level": "warning", "access_log": False,
                            **limits(API_REQUEST_TIMEOUT_S, API_MAX_CONNECTIONS)},
    })


def attach_api(app: faust.App, settings: Settings, repository: RepositoryProvider) -> type[AsgiService]:
    """Start the API with ``app`` (``@app.service``), reading through the worker's ``repository``."""
    service = api_service(settings, repository)
    app.service(service)
    return service
