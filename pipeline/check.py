"""``hypermicro check``: is this configuration able to run? One line per problem.

The same checks run when ``hypermicro worker`` and ``hypermicro api`` start
(:func:`settings_or_exit`), so a broken config stops a process with a line naming the setting
or file, not a traceback minutes later. Settings are validated by :class:`pipeline.core.settings.Settings`;
the brands, topics and routes files by the loaders in ``pipeline.core`` that every consumer uses.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
import yaml
from pydantic import ValidationError

from pipeline.core.brands import BrandConfigError, load_brands
from pipeline.core.routes import load_routes
from pipeline.core.settings import (
    ConfigError,
    Settings,
    env_name,
    first_line,
    load_checked_settings,
)
from pipeline.core.taxonomy import TaxonomyError, load_taxonomy

# Parts of a check, in the order they run: configuration first, then reachability.
FILES = ("brands", "topics", "routes", "people")
SERVICES = ("kafka", "clickhouse")


# ------------------------------------------------------------------------------- files
def check_brands(path: Path) -> list[str]:
    """Problems of the brands file (every one the loader finds)."""
    try:
        load_brands(path)
    except BrandConfigError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1:] if len(lines) > 1 else lines
        return [f"{env_name('brands_file')}: {ln}" for ln in detail]
    return []


def check_topics(path: Path) -> list[str]:
    """Problem of the topic taxonomy file (the loader stops at the first one)."""
    try:
        load_taxonomy(path)
    except (OSError, yaml.YAMLError) as exc:
        return [unreadable('topics_file', path, exc)]
    except TaxonomyError as exc:
        return [f"{env_name('topics_file')}: {path}: {first_line(exc)}"]
    return []


def unreadable(setting: str, path: Path, exc: OSError | yaml.YAMLError) -> str:
    """The one line for a config file that cannot be read or is not YAML."""
    if isinstance(exc, OSError):
        return f"{env_name(setting)}: {path}: cannot read: {exc.strerror or exc}"
    return f"{env_name(setting)}: {path}: not valid YAML: {first_line(exc)}"


def check_routes(path: Path | None) -> list[str]:
    """Problems of the alert routing file, if one is set (one line per invalid key)."""
    if path is None:
        return []
    try:
        load_routes(path)
    except ValidationError as exc:
        return [f"{env_name('alert_routes_file')}: {path}: {'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
                for e in exc.errors()]
    except (OSError, yaml.YAMLError) as exc:
        return [unreadable('alert_routes_file', path, exc)]
    return []


def check_people(path: Path | None) -> list[str]:
    """Problems of the people file (owners of rostered voices), if one is set."""
    if path is None:
        return []
    from pipeline.relationships.people import load_people

    try:
        load_people(path)
    except (OSError, yaml.YAMLError) as exc:
        return [unreadable('people_file', path, exc)]
    except ValueError as exc:
        return [f"{env_name('people_file')}: {first_line(exc)}"]
    return []


# ------------------------------------------------------------------------------- services
def check_kafka(bootstrap: str, timeout_s: float = 5.0) -> list[str]:
    """Empty when at least one bootstrap server accepts a connection and answers a metadata request."""
    failures = []
    for server in bootstrap.split(","):
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                pass
        except OSError as exc:
            failures.append(f"{server}: {exc.strerror or exc}")
            continue
        if kafka_answers(server, timeout_s):
            return []
        failures.append(f"{server}: accepts connections but does not answer as a Kafka broker")
    return [f"{env_name('kafka_bootstrap')}: no Kafka broker reachable ({'; '.join(failures)})"]


def kafka_answers(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when a broker at ``bootstrap`` answers a metadata request (kafka-python logs muted)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    admin = None
    with muted("kafka"):  # a failed probe is an answer here, not an error to log
        try:
            ms = int(timeout_s * 1000)
            admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=ms, bootstrap_timeout_ms=ms)
            admin.list_topics()
            return True
        except (KafkaError, OSError, ValueError):
            return False
        finally:
            if admin is not None:
                admin.close()


def check_clickhouse(settings: Settings) -> list[str]:
    """Server backend: the server answers with these credentials. chdb: its data path is writable."""
    if settings.clickhouse_backend == "chdb":
        path = settings.chdb_path.resolve()
        parent = next((p for p in (path, *path.parents) if p.exists()), None)
        if parent is None or not parent.is_dir() or not _writable(parent):
            return [f"{env_name('chdb_path')}: {settings.chdb_path} cannot be created or written"]
        return []
    from pipeline.storage.backend import DriverBackend, StorageError

    where = f"{settings.clickhouse_host}:{settings.clickhouse_port}"
    ch = DriverBackend(settings.clickhouse_host, settings.clickhouse_port, settings.clickhouse_database,
                       settings.clickhouse_user, settings.clickhouse_password.get_secret_value(),
                       connect_timeout=5.0, send_receive_timeout=10.0)
    try:
        with muted("clickhouse_driver"):  # its reconnect warnings carry a traceback
            ch.server_version()
    except StorageError as exc:
        return [f"{env_name('clickhouse_host')}: ClickHouse at {where} not usable: {first_line(exc)}"]
    finally:
        ch.close()
    return []


@contextmanager
def muted(*loggers: str) -> Iterator[None]:
    """Silence these loggers for the duration of a probe whose failure is reported as a result."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for lg, _ in saved:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def _writable(directory: Path) -> bool:
    import os

    return os.access(directory, os.W_OK | os.X_OK)


# ------------------------------------------------------------------------------- together
def run_checks(settings: Settings, parts: Iterable[str] = (*FILES, *SERVICES)) -> list[str]:
    """Problems of the files and services named in ``parts``, one line each."""
    checks: dict[str, Callable[[], list[str]]] = {
        "brands": lambda: check_brands(settings.brands_file),
        "topics": lambda: check_topics(settings.topics_file),
        "routes": lambda: check_routes(settings.alert_routes_file),
        "people": lambda: check_people(settings.people_file),
        "kafka": lambda: check_kafka(settings.kafka_bootstrap),
        "clickhouse": lambda: check_clickhouse(settings),
    }
    return [line for part in parts for line in checks[part]()]


def settings_or_exit(parts: Iterable[str], **overrides: object) -> Settings:
    """Start-up gate of a process: checked settings, or one line per problem on stderr and exit 2."""
    try:
        settings = load_checked_settings(**overrides)
        problems = run_checks(settings, parts)
    except ConfigError as exc:
        problems = exc.problems
    if problems:
        for line in problems:
            typer.echo(f"config error: {line}", err=True)
        raise typer.Exit(2)
    return settings


def command(
    offline: bool = typer.Option(False, "--offline", help="Only settings and files; do not contact Kafka or ClickHouse."),
) -> None:
    """Validate settings, the brands/topics/routes files and reachability of Kafka and ClickHouse."""
    parts: tuple[str, ...] = FILES if offline else (*FILES, *SERVICES)
    settings_or_exit(parts)
    typer.echo(f"ok: settings, {', '.join(parts)}")

