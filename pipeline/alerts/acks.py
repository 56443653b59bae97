"""Acknowledgements across processes: the API records them, the dispatcher's incident book obeys them.

The API and the worker may run on different hosts (separate containers, separate disks), and the
incident book is a SQLite file on the worker's disk: SQLite over a network share is unsafe. So
ClickHouse's ``alert_acks`` table, which both processes already reach, is the durable record of
every acknowledgement, and the dispatcher applies new rows to its book at every pass
(:func:`repository_ack_feed`). When the API runs on the same host (embedded in the worker, or with
the book on a local path it can read), it also acknowledges in the book at once
(:func:`acknowledge_in_book`), so ``hypermicro alerts list`` shows it before the next pass.
Applying an acknowledgement twice is harmless (:meth:`IncidentBook.apply_acks`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.alerts.incidents import IncidentBook
from pipeline.core.settings import Settings
from pipeline.storage.repository import RepositoryProvider

INCIDENTS_DB = "incidents.sqlite3"


@dataclass(frozen=True)
class AckRecord:
    """One acknowledgement of an incident, as stored in ``alert_acks``."""

    incident_id: str
    by: str
    at: datetime


AckFeed = Callable[[datetime | None], Awaitable[list[AckRecord]]]
"""Acknowledgements recorded at or after the given time (None: all), oldest first."""


def state_dir(settings: Settings) -> Path:
    """Where the incident book and outbox live (``alert_state_dir`` or ``<worker_data_dir>/alerts``)."""
    return settings.alert_state_dir or settings.worker_data_dir / "alerts"


def acknowledge_in_book(settings: Settings, incident_id: str, by: str) -> bool:
    """Acknowledge ``incident_id`` in the local incident book if there is one; False if none or unknown."""
    path = state_dir(settings) / INCIDENTS_DB
    if not incident_id or not path.exists():
        return False
    book = IncidentBook(path)
    try:
        return book.acknowledge(incident_id, by)
    finally:
        book.close()


def repository_ack_feed(repo_factory: RepositoryProvider) -> AckFeed:
    """An :data:`AckFeed` reading ``alert_acks`` through the Repository."""

    async def feed(since: datetime | None) -> list[AckRecord]:
        repo = await repo_factory()
        start = (since or datetime(1970, 1, 1, tzinfo=UTC)).astimezone(UTC)
        rows = await asyncio.get_running_loop().run_in_executor(None, repo.alerts.acks_since, start)
        return [AckRecord(r["incident_id"], r["acked_by"], _utc(r["acked_at"])) for r in rows]

    return feed


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
