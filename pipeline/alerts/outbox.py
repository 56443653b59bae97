"""Durable outbox of alert deliveries (SQLite): nothing to deliver is ever dropped silently.

Every delivery (one alert × one channel) is written here *before* it is attempted and removed
only once the channel accepted it. Failed deliveries wait with exponential backoff
(``next_attempt_at``); after ``max_attempts`` or a non-retryable error they become ``failed``
and stay until someone retries them (``hypermicro alerts retry``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pipeline.alerts.incidents import connect
from pipeline.core.clock import utc_now
from pipeline.core.schema import Alert

OutboxStatus = Literal["pending", "failed"]
OUTBOX_STATUSES: tuple[OutboxStatus, ...] = ("pending", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    incident_id TEXT,
    channel TEXT NOT NULL,
    recipients TEXT NOT NULL,
    alert_json TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    UNIQUE (alert_id, channel)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
"""


@dataclass(frozen=True)
class OutboxEntry:
    """One pending or failed delivery."""

    id: int
    alert: Alert
    channel: str
    recipients: list[str]
    status: OutboxStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime


class Outbox:
    """Deliveries not yet accepted by their channel."""

    def __init__(
        self,
        path: Path,
        *,
        max_attempts: int = 12,
        backoff_initial_s: float = 30.0,
        backoff_max_s: float = 3600.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = Path(path)
        self.max_attempts = max_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _ts(self) -> float:
        return self.clock().timestamp()

    @staticmethod
    def _entry(row: sqlite3.Row) -> OutboxEntry:
        return OutboxEntry(
            id=row["id"], alert=Alert.model_validate_json(row["alert_json"]), channel=row["channel"],
            recipients=json.loads(row["recipients"]), status=row["status"], attempts=row["attempts"],
            last_error=row["last_error"], created_at=datetime.fromtimestamp(row["created_at"], UTC),
            next_attempt_at=datetime.fromtimestamp(row["next_attempt_at"], UTC),
        )

    def add(self, alert: Alert, channel: str, recipients: Iterable[str]) -> int:
        """Queue a delivery (due now). One entry per (alert id, channel): a newer version of the
        alert replaces a waiting one. Returns the entry id."""
        ts = self._ts()
        with self._tx() as db:
            db.execute(
                "INSERT INTO outbox (alert_id, incident_id, channel, recipients, alert_json,"
                " created_at, updated_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (alert_id, channel) DO UPDATE SET incident_id = excluded.incident_id,"
                " recipients = excluded.recipients, alert_json = excluded.alert_json, status = 'pending',"
                " updated_at = excluded.updated_at, next_attempt_at = excluded.next_attempt_at",
                (alert.id, alert.incident_id, channel, json.dumps(sorted(set(recipients))),
                 alert.model_dump_json(), ts, ts, ts),
            )
            row = db.execute("SELECT id FROM outbox WHERE alert_id = ? AND channel = ?",
                             (alert.id, channel)).fetchone()
        return int(row["id"])

    def get(self, entry_id: int) -> OutboxEntry | None:
        """One entry, or None once delivered."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM outbox WHERE id = ?", (entry_id,)).fetchone()
        return None if row is None else self._entry(row)

    def due(self, limit: int = 500) -> list[OutboxEntry]:
        """Pending entries whose next attempt is due, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, id LIMIT ?", (self._ts(), limit),
            ).fetchall()
        return [self._entry(r) for r in rows]

    def entries(self, status: OutboxStatus | None = None, limit: int = 500) -> list[OutboxEntry]:
        """All entries (or those with ``status``), oldest first."""
        sql, args = "SELECT * FROM outbox", []
        if status is not None:
            sql, args = sql + " WHERE status = ?", [status]
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        return [self._entry(r) for r in rows]

    def count(self, status: OutboxStatus | None = None) -> int:
        """Number of entries (with ``status``)."""
        with self._lock:
            if status is None:
                (n,) = self._conn.execute("SELECT COUNT(*) FROM outbox").fetchone()
            else:
                (n,) = self._conn.execute("SELECT COUNT(*) FROM outbox WHERE status = ?", (status,)).fetchone()
        return int(n)

    def mark_delivered(self, entry_id: int) -> None:
        """The channel accepted it: remove the entry."""
        with self._tx() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (entry_id,))

    def mark_failed(self, entry_id: int, error: str, *, retryable: bool, retry_after: float | None = None,
                    recipients: list[str] | None = None) -> OutboxStatus | None:
        """Record a failed attempt; schedule the next one or mark the entry ``failed``.

        ``recipients`` narrows the entry to those that did not get it. Returns the new status.
        """
        ts = self._ts()
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM outbox WHERE id = ?", (entry_id,)).fetchone()
            if row is None:
                return None
            attempts = row["attempts"] + 1
            backoff = min(self.backoff_max_s, self.backoff_initial_s * 2 ** (attempts - 1))
            backoff *= random.uniform(0.8, 1.2)  # spread retries of many entries
            if retry_after is not None:
                backoff = max(backoff, retry_after)
            status: OutboxStatus = "pending" if retryable and attempts < self.max_attempts else "failed"
            db.execute(
                "UPDATE outbox SET attempts = ?, last_error = ?, status = ?, updated_at = ?,"
                " next_attempt_at = ?, recipients = COALESCE(?, recipients) WHERE id = ?",
                (attempts, error[:2000], status, ts, ts + backoff,
                 json.dumps(sorted(set(recipients))) if recipients else None, entry_id),
            )
        return status

    def requeue(self, ids: Iterable[int] | None = None) -> int:
        """Make entries (all when ``ids`` is None, failed ones included) pending and due now."""
        ts = self._ts()
        with self._tx() as db:
            if ids is None:
                cur = db.execute("UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ?",
                                 (ts, ts))
                return cur.rowcount
            n = 0
            for entry_id in ids:
                n += db.execute(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ?",
                    (ts, ts, int(entry_id)),
                ).rowcount
            return n
