"""``hypermicro migrate``: apply (or roll back) ClickHouse migrations."""

from __future__ import annotations

import typer

from pipeline.core.settings import load_settings


def migrate_command(
    target: int | None = typer.Option(None, "--to", help="Target version (default: latest); lower rolls back."),
) -> None:
    """Apply numbered ClickHouse migrations for the configured backend."""
    from pipeline.storage.backend import connect
    from pipeline.storage.migrate import migrate

    ch = connect(load_settings())
    try:
        for line in migrate(ch, target) or ["schema is up to date"]:
            typer.echo(line)
    finally:
        ch.close()
