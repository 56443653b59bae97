"""``hypermicro alerts list|retry|ack``: inspect incidents and the outbox, retry, acknowledge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import typer

from pipeline.core.settings import Settings, load_settings

alerts_app = typer.Typer(help="Alert incidents and delivery outbox.", no_args_is_help=True)

S = TypeVar("S", bound=str)

_STATE_HELP = "Alert state directory (default: settings.alert_state_dir or <worker_data_dir>/alerts)."


class What(StrEnum):
    outbox = "outbox"
    incidents = "incidents"
    all = "all"


def _settings() -> Settings:
    return load_settings()


def state_dir_for(settings: Settings, state_dir: Path | None = None) -> Path:
    """Where the alert SQLite state lives."""
    from pipeline.alerts.acks import state_dir as configured_state_dir

    return state_dir if state_dir is not None else configured_state_dir(settings)


def _status(status: str | None, allowed: Sequence[S], table: str) -> S | None:
    """The ``--status`` filter as one of ``allowed`` (None: no filter); a clear error otherwise."""
    if status is None:
        return None
    for value in allowed:
        if value == status:
            return value
    raise typer.BadParameter(f"{status!r} is not a status of {table} ({', '.join(allowed)})",
                             param_hint="'--status'")


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def list_command(
    what: What = typer.Argument(What.all, help="outbox, incidents or all."),
    status: str | None = typer.Option(None, "--status",
                                      help="Filter: pending/failed (outbox), open/acked/closed (incidents)."),
    limit: int = typer.Option(50, "--limit", help="Rows per table."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=_STATE_HELP),
) -> None:
    """List incidents and/or outbox entries."""
    from pipeline.alerts.dispatcher import INCIDENTS_DB, OUTBOX_DB
    from pipeline.alerts.incidents import INCIDENT_STATUSES, IncidentBook
    from pipeline.alerts.outbox import OUTBOX_STATUSES, Outbox

    settings = _settings()
    root = state_dir_for(settings, state_dir)
    if what in (What.incidents, What.all):
        book = IncidentBook(root / INCIDENTS_DB,
                            window_s=float(getattr(settings, "alert_incident_window_s", None) or 3600.0))
        wanted = _status(status, INCIDENT_STATUSES, "incidents") if what is What.incidents else None
        rows = book.list_incidents(status=wanted, limit=limit)
        if not as_json:
            typer.echo(f"incidents ({len(rows)}):")
        for inc in rows:
            if as_json:
                typer.echo(json.dumps({"table": "incidents", **{k: _iso(v) if k.endswith("_at") else v
                                                                for k, v in inc.__dict__.items()}}))
            else:
                ack = f" acked by {inc.acked_by} at {_iso(inc.acked_at)}" if inc.acked_by else ""
                typer.echo(f"  {inc.id}  {inc.status:<6} {inc.peak_severity:<8} {inc.kind} "
                           f"{inc.subject_kind}:{inc.subject_id}  alerts={inc.alert_count} "
                           f"delivered={inc.delivered_count} peak={inc.peak_observed:g} "
                           f"last={_iso(inc.last_seen_at)}{ack}")
        book.close()
    if what in (What.outbox, What.all):
        outbox = Outbox(root / OUTBOX_DB)
        entries = outbox.entries(status=_status(status, OUTBOX_STATUSES, "outbox") if what is What.outbox else None,
                                 limit=limit)
        if not as_json:
            typer.echo(f"outbox ({outbox.count()} waiting, {outbox.count('failed')} failed):")
        for e in entries:
            if as_json:
                typer.echo(json.dumps({
                    "table": "outbox", "id": e.id, "alert_id": e.alert.id, "incident_id": e.alert.incident_id,
                    "channel": e.channel, "recipients": e.recipients, "status": e.status, "attempts": e.attempts,
                    "last_error": e.last_error, "next_attempt_at": _iso(e.next_attempt_at),
                }))
            else:
                typer.echo(f"  #{e.id}  {e.status:<7} {e.channel:<8} alert={e.alert.id} "
                           f"incident={e.alert.incident_id} attempts={e.attempts} "
                           f"next={_iso(e.next_attempt_at)} error={e.last_error or '-'}")
        outbox.close()


def retry_command(
    ids: list[int] | None = typer.Option(None, "--id", help="Outbox entry id (repeatable); default: all."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=_STATE_HELP),
) -> None:
    """Deliver outbox entries now (failed ones included), with the channels from settings."""
    from pipeline.alerts.dispatcher import AlertDispatcher

    settings = _settings()
    dispatcher = AlertDispatcher.from_settings(settings, state_dir_for(settings, state_dir))
    try:
        report = asyncio.run(dispatcher.retry_outbox(ids or None))
        left = dispatcher.outbox.count()
    finally:
        dispatcher.close()
    typer.echo(f"attempted={report.attempted} delivered={report.delivered} failed={report.failed} outbox={left}")
    if report.failed:
        raise typer.Exit(1)


def ack_command(
    incident_id: str = typer.Argument(..., help="Incident id (see `alerts list incidents`)."),
    by: str = typer.Option(..., "--by", help="Who acknowledges (name or e-mail)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help=_STATE_HELP),
) -> None:
    """Acknowledge an incident: no more alerts for it until it worsens."""
    from pipeline.alerts.dispatcher import INCIDENTS_DB
    from pipeline.alerts.incidents import IncidentBook

    settings = _settings()
    book = IncidentBook(state_dir_for(settings, state_dir) / INCIDENTS_DB)
    try:
        ok = book.acknowledge(incident_id, by)
    finally:
        book.close()
    if not ok:
        typer.echo(f"no incident {incident_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"acknowledged={incident_id} by={by}")


alerts_app.command("list")(list_command)
alerts_app.command("retry")(retry_command)
alerts_app.command("ack")(ack_command)
