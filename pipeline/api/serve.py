"""``hypermicro api``: run the API as its own process against ClickHouse (server or chDB backend).

With the server backend any number of API processes can run side by side. With the chdb backend
this process owns the data path, so no worker may use the same path at the same time (use the
embedded mode, :func:`pipeline.runtime.embedded_api.attach_api`, to serve the worker's own chDB).
"""

from __future__ import annotations

import logging

import typer

from pipeline.core.httpserver import API_MAX_CONNECTIONS, API_REQUEST_TIMEOUT_S, limits

log = logging.getLogger(__name__)


def command(
    host: str | None = typer.Option(None, "--host", help="Bind address (default: settings api_host)."),
    port: int | None = typer.Option(None, "--port", help="Port (default: settings api_port)."),
    migrate: bool = typer.Option(True, "--migrate/--no-migrate", help="Apply schema migrations at start."),
) -> None:
    """Serve the HTTP API and dashboard."""
    import uvicorn

    from pipeline.api.app import create_api
    from pipeline.api.auth import LOOPBACK
    from pipeline.check import settings_or_exit
    from pipeline.storage.backend import connect
    from pipeline.storage.migrate import migrate as run_migrations
    from pipeline.storage.repository import Repository

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["api_host"] = host
    if port is not None:
        overrides["api_port"] = port
    settings = settings_or_exit(("brands", "clickhouse"), **overrides)  # what the API reads
    ch = connect(settings)
    if migrate:
        for line in run_migrations(ch):
            log.info("migration: %s", line)
    repo = Repository(ch)
    if (not settings.api_tokens and not settings.api_read_tokens and not settings.api_admin_tokens
            and not settings.api_open_reads and settings.api_host not in LOOPBACK):
        log.warning("no API tokens configured and bound to %s: every request will be refused (401); "
                    "set HYPERMICRO_API_TOKENS (named, per person) or HYPERMICRO_API_OPEN_READS", settings.api_host)
    try:
        uvicorn.run(create_api(lambda: repo, settings), host=settings.api_host, port=settings.api_port,
                    log_config=None,  # keep pipeline.core.logs' configuration (one format)
                    **limits(API_REQUEST_TIMEOUT_S, API_MAX_CONNECTIONS))
    finally:
        ch.close()
