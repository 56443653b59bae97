"""``hypermicro connect``, ``hypermicro replay`` and ``hypermicro connectors list|new``.

A connector config file is YAML. Runner keys (``bootstrap``, ``topic``, ``dlq_topic``,
``state_dir``, ``poll_interval_s``, ``checkpoint_every``, ``checkpoint_interval_s``,
``metrics_port``, ``create_topics``) are read by the runner; every other key goes to the
connector's spec (secrets should come from the environment or a secrets directory instead).
The ``file`` connector takes ``path``, ``speed``, ``topic``, ``bootstrap``, ``limit``,
``source``, ``dlq_topic`` and ``progress``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from pipeline.core.kafka import DEFAULT_BOOTSTRAP
from pipeline.core.settings import ConfigError, load_checked_settings, topic_name
from pipeline.core.topics import DLQ, RAW_POSTS

if TYPE_CHECKING:
    from connectors.file_replay import ReplayStats

log = logging.getLogger(__name__)

connectors_app = typer.Typer(help="List connectors and scaffold new ones.", no_args_is_help=True)

FILE_CONNECTOR = "file"


def _default_bootstrap() -> str:
    return os.environ.get("HYPERMICRO_KAFKA_BOOTSTRAP", DEFAULT_BOOTSTRAP)


def namespaced(topic: str | None) -> str | None:
    """Physical name of a logical topic under ``HYPERMICRO_TOPIC_NAMESPACE`` (what the worker consumes).

    A name that already carries the namespace is left as it is, so configs may use either form.
    """

    if not topic:
        return topic
    try:
        settings = load_checked_settings()
    except ConfigError as exc:
        raise typer.BadParameter("; ".join(exc.problems), param_hint="environment") from None
    prefix = f"{settings.topic_namespace}."
    if not settings.topic_namespace or topic.startswith(prefix):
        return topic
    return topic_name(settings, topic)


def load_config(path: Path | None) -> dict[str, Any]:
    """Read a connector YAML config (a mapping); ``None`` gives an empty config."""
    import yaml

    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: expected a YAML mapping at the top level", param_hint="--config")
    return data


def run_replay(
    path: Path,
    *,
    bootstrap: str,
    topic: str = RAW_POSTS,
    speed: float = 0.0,
    limit: int | None = None,
    dlq_topic: str | None = DLQ,
    source: str | None = None,
    progress: bool = True,
    create_topics: bool = True,
    partitions: int = 4,
    replication: int = 1,
) -> ReplayStats:
    """Replay one file into Kafka (creating the topics first when asked) and return its stats."""
    from connectors.file_replay import replay_file
    from pipeline.core.kafka import PostProducer, ensure_topics

    if not Path(path).is_file():
        raise typer.BadParameter(f"{path}: no such file", param_hint="path")
    if create_topics:
        ensure_topics(bootstrap, [t for t in (topic, dlq_topic) if t], partitions, replication)
    with PostProducer(bootstrap, topic=topic) as producer:
        return replay_file(Path(path), producer, topic, speed=speed, progress=progress, limit=limit,
                           dlq_topic=dlq_topic, source=source)


def _print_stats(stats: ReplayStats) -> None:
    for lineno, message in stats.errors[:10]:
        typer.echo(f"invalid line {lineno}: {message}", err=True)
    typer.echo(f"sent={stats.sent} invalid={stats.invalid} dead_lettered={stats.dead_lettered} "
               f"elapsed_s={stats.elapsed_s:.2f} posts_per_s={stats.posts_per_s:.0f}")


def replay_command(
    path: Path = typer.Argument(..., help="JSONL or CSV file (optionally .gz) of posts."),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers (default: $HYPERMICRO_KAFKA_BOOTSTRAP or 127.0.0.1:9092)."),
    topic: str = typer.Option(RAW_POSTS, "--topic", help="Topic the posts go to (prefixed with $HYPERMICRO_TOPIC_NAMESPACE when set)."),
    speed: float = typer.Option(0.0, "--speed", help="0: as fast as possible; N: N times real time (by created_at gaps)."),
    limit: int = typer.Option(None, "--limit", help="Read at most this many records."),
    dlq_topic: str = typer.Option(DLQ, "--dlq-topic", help="Dead-letter topic for invalid records (namespaced like --topic)."),
    no_dlq: bool = typer.Option(False, "--no-dlq", help="Only log and count invalid records."),
    source: str = typer.Option(None, "--source", help="Source name for records that have none."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar (only on a terminal)."),
    create_topics: bool = typer.Option(True, "--create-topics/--no-create-topics", help="Create missing topics first."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 if any record was invalid."),
) -> None:
    """Replay posts from a file into Kafka (time-warped with --speed)."""
    stats = run_replay(path, bootstrap=bootstrap or _default_bootstrap(), topic=namespaced(topic) or RAW_POSTS,
                       speed=speed, limit=limit, dlq_topic=None if no_dlq else namespaced(dlq_topic), source=source,
                       progress=progress, create_topics=create_topics)
    _print_stats(stats)
    if strict and stats.invalid:
        raise typer.Exit(1)


def connect_command(
    name: str = typer.Argument(..., help="Connector name (see `hypermicro connectors list`)."),
    config: Path = typer.Option(None, "--config", help="YAML config: runner keys plus the connector's spec."),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Override the Kafka bootstrap servers."),
    topic: str = typer.Option(None, "--topic", help="Override the output topic (prefixed with $HYPERMICRO_TOPIC_NAMESPACE when set)."),
    state_dir: Path = typer.Option(None, "--state-dir", help="Where cursor state files live (default .data/connectors)."),
    secrets_dir: Path = typer.Option(None, "--secrets-dir", help="Directory of secret files, each named like the env variable (e.g. HYPERMICRO_REDDIT_CLIENT_SECRET)."),
    once: bool = typer.Option(False, "--once", help="One pass over every stream, then exit (polling streams)."),
    check_only: bool = typer.Option(False, "--check", help="Only verify credentials and reachability."),
    metrics_port: int = typer.Option(None, "--metrics-port", help="Serve Prometheus metrics on this port (overrides the config)."),
) -> None:
    """Run a connector: read its streams, produce posts to Kafka, persist cursors after acks."""
    cfg = load_config(config)
    if metrics_port is not None:
        cfg["metrics_port"] = metrics_port
    if bootstrap:
        cfg["bootstrap"] = bootstrap
    if topic:
        cfg["topic"] = topic
    cfg.setdefault("bootstrap", _default_bootstrap())
    cfg["topic"] = namespaced(cfg.get("topic", RAW_POSTS))
    cfg["dlq_topic"] = namespaced(cfg.get("dlq_topic", DLQ))
    if name == FILE_CONNECTOR:
        if "path" not in cfg:
            raise typer.BadParameter("the file connector needs `path` in its config", param_hint="--config")
        base = Path(config).parent if config else Path.cwd()
        path = Path(cfg["path"])
        stats = run_replay(
            path if path.is_absolute() else base / path,
            bootstrap=cfg["bootstrap"],
            topic=cfg["topic"],
            speed=float(cfg.get("speed", 0.0)),
            limit=cfg.get("limit"),
            dlq_topic=cfg["dlq_topic"],
            source=cfg.get("source"),
            progress=bool(cfg.get("progress", True)),
            create_topics=bool(cfg.get("create_topics", True)),
        )
        _print_stats(stats)
        return

    from connectors.base import CheckError
    from connectors.registry import get_connector
    from connectors.run_types import RunnerOptions
    from connectors.runner import run_connector

    try:
        cls = get_connector(name)
    except KeyError as exc:
        raise typer.BadParameter(str(exc.args[0]), param_hint="name") from None
    options = RunnerOptions.from_config(cfg, state_dir=state_dir)
    spec_cfg = {k: v for k, v in cfg.items() if k not in RunnerOptions.config_keys()}
    connector = cls.from_config(spec_cfg, secrets_dir=secrets_dir)
    try:
        connector.check()
    except CheckError as exc:
        typer.echo(f"check failed for {name}: {exc}", err=True)
        raise typer.Exit(2) from None
    if check_only:
        typer.echo(f"check ok: {name}")
        return
    result = run_connector(connector, options, once=once)
    typer.echo(" ".join(f"{k}={v}" for k, v in result.as_dict().items()))


@connectors_app.command("list")
def list_command() -> None:
    """List built-in connectors and those installed through the `hypermicro.connectors` entry point."""
    from connectors.registry import available_connectors

    rows = [(FILE_CONNECTOR, "builtin", "replay a JSONL/CSV file into Kafka")]
    rows += [(info.name, info.origin, info.summary) for info in available_connectors()]
    name_w = max(len(r[0]) for r in rows)
    origin_w = max(len(r[1]) for r in rows)
    for name, origin, summary in rows:
        typer.echo(f"{name:<{name_w}}  {origin:<{origin_w}}  {summary}".rstrip())


@connectors_app.command("new")
def new_command(
    name: str = typer.Argument(..., help="Connector name: lower case letters, digits and underscores."),
    directory: Path = typer.Option(Path("."), "--dir", help="Project root of the new connector package."),
    template: str = typer.Option("http", "--template", help="Starting point: http (polled JSON API), stream (websocket) or file (JSON lines)."),
    tests_dir: Path = typer.Option(None, "--tests-dir", help="Where its test is written (default: <dir>/tests)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
) -> None:
    """Scaffold an installable connector package (pyproject with the entry point, module, contract test)."""
    from connectors.scaffold import scaffold

    try:
        made = scaffold(name, directory, tests_dir, template=template, force=force)
    except (ValueError, FileExistsError) as exc:
        raise typer.BadParameter(str(exc), param_hint="name") from None
    for path in made.files:
        typer.echo(f"created {path}")
    typer.echo(f"next: edit {made.module}, run `python -m pytest {made.test.parent}`, "
               f"then `pip install -e {made.root}` to make `hypermicro connect {name}` find it")
