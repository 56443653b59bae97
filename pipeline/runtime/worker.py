"""``hypermicro worker``: run the enrich/sink agents and (on the leader) the detectors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipeline.core.settings import Settings

if TYPE_CHECKING:  # the CLI imports this module to register the command: Faust loads only when it runs
    from pipeline.runtime.app import Worker

log = logging.getLogger(__name__)


def build_worker(settings: Settings) -> Worker:
    """The worker as ``hypermicro worker`` runs it: enrich, sink and (on the leader) the live
    detectors (negative spikes, emerging voices, roster watch)."""
    from pipeline.runtime.app import Worker
    from pipeline.runtime.live import build_live_detector

    return Worker(settings, detector_factory=build_live_detector)


def run_worker(settings: Settings, with_api: bool = False, loglevel: str = "info") -> None:
    """Run a Faust worker until SIGTERM/SIGINT (blocking)."""
    w = build_worker(settings)
    if settings.metrics_port and not with_api:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    if with_api:
        from pipeline.runtime.embedded_api import attach_api

        attach_api(w.app, settings, w.repository)
    run_app(w, loglevel)


def run_app(worker: Worker, loglevel: str = "warning") -> None:
    """Run a worker's Faust app until it is stopped (blocking)."""
    import faust

    worker.declare_topics()
    try:
        faust.Worker(  # logging stays as pipeline.core.logs configured it (one format, quiet libraries)
            worker.app, loglevel=loglevel, quiet=True, redirect_stdouts=False, override_logging=False,
        ).execute_from_commandline()
    finally:  # Faust ends with SystemExit; close ClickHouse before the interpreter tears down
        worker.close()


def command(
    bootstrap: str | None = typer.Option(None, "--bootstrap", help="Kafka bootstrap (overrides HYPERMICRO_KAFKA_BOOTSTRAP)."),
    backend: str | None = typer.Option(None, "--backend", help="chdb or server (overrides HYPERMICRO_CLICKHOUSE_BACKEND)."),
    chdb_path: Path | None = typer.Option(None, "--chdb-path", help="Embedded ClickHouse data path."),
    web_port: int | None = typer.Option(None, "--web-port", help="Faust web port (0 disables)."),
    api: bool = typer.Option(False, "--api/--no-api", help="Also serve the HTTP API from this process (embedded mode)."),
    loglevel: str = typer.Option("info", "--loglevel"),
) -> None:
    """Run a pipeline worker (enrich + sink; detectors on the leader)."""
    from pipeline.check import FILES, SERVICES, settings_or_exit

    overrides: dict[str, object] = {}
    if bootstrap:
        overrides["kafka_bootstrap"] = bootstrap
    if backend:
        overrides["clickhouse_backend"] = backend
    if chdb_path:
        overrides["chdb_path"] = chdb_path
    if web_port is not None:
        overrides["web_port"] = web_port
    run_worker(settings_or_exit((*FILES, *SERVICES), **overrides), with_api=api, loglevel=loglevel)
