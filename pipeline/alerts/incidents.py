"""Incidents: dedupe and grouping of alerts, escalation, acknowledgement, frequency caps.

Alerts with the same ``kind`` + subject join one incident while they keep arriving within
``window_s`` of each other. Only the first alert of an incident and later *escalations*
(severity up, or observed >= ``escalation_factor`` × the last delivered observed) are delivered.
An incident with no alert for ``window_s`` is closed; an alert within ``cooldown_s`` after that
reopens it (again delivered only if it escalates) instead of starting a new one. An acknowledged
incident stays quiet until it worsens relative to its state when acknowledged. Deliveries per
subject are capped (``max_per_subject`` per ``cap_window_s``; severity increases always pass).

State lives in SQLite (WAL) so a restarted worker does not re-alert, and the CLI can
acknowledge from another process.

Time: grouping, cooldowns and caps run on **event time**, the end of the alert's evidence window
(``alert.window.end``), so a backfill or a replay at any speed groups alerts exactly as live
arrival would, and alerts days apart in event time never share an incident because they were
computed seconds apart. Wall-clock time is kept for what a person or a process does: when an
incident was acknowledged, whether it looks open now, and when untouched state is pruned.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pipeline.alerts.render import SEVERITY_RANK
from pipeline.core.clock import utc_now
from pipeline.core.schema import Alert

IncidentStatus = Literal["open", "acked", "closed"]
INCIDENT_STATUSES: tuple[IncidentStatus, ...] = ("open", "acked", "closed")
_SEVERITY_NAME = {v: k for k, v in SEVERITY_RANK.items()}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0,
    opened_at REAL NOT NULL,
    last_seen_at REAL NOT NULL,
    alert_count INTEGER NOT NULL DEFAULT 0,
    delivered_count INTEGER NOT NULL DEFAULT 0,
    peak_severity INTEGER NOT NULL,
    peak_observed REAL NOT NULL,
    last_observed REAL NOT NULL,
    delivered_severity INTEGER,
    delivered_observed REAL,
    last_delivered_at REAL,
    acked_by TEXT,
    acked_at REAL,
    ack_severity INTEGER,
    ack_observed REAL,
    last_alert_id TEXT,
    touched_at REAL
);
CREATE INDEX IF NOT EXISTS incidents_key ON incidents (key, last_seen_at);
CREATE TABLE IF NOT EXISTS incident_alerts (
    alert_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    seen_at REAL NOT NULL,
    delivered INTEGER NOT NULL,
    reason TEXT NOT NULL,
    severity INTEGER NOT NULL,
    observed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subject_deliveries (
    subject_key TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS subject_deliveries_key ON subject_deliveries (subject_key, at);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A WAL-mode SQLite connection shared by threads of one process (callers hold a lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


@dataclass(frozen=True)
class Decision:
    """What to do with one alert. ``reason``: new, escalation, duplicate, acknowledged, cooldown,
    rate_limited or replay (this alert id was seen before with the same or worse figures)."""

    incident_id: str
    deliver: bool
    reason: str
    new_incident: bool = False


@dataclass(frozen=True)
class Incident:
    """One incident as stored (times are UTC datetimes)."""

    id: str
    kind: str
    subject_kind: str
    subject_id: str
    status: IncidentStatus
    opened_at: datetime
    last_seen_at: datetime
    alert_count: int
    delivered_count: int
    peak_severity: str
    peak_observed: float
    acked_by: str | None
    acked_at: datetime | None


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else _at(ts)


def incident_key(alert: Alert) -> str:
    """``kind|subject kind|subject id``: alerts with the same key may share an incident."""
    return f"{alert.kind}|{alert.subject.kind}|{alert.subject.id}"


def subject_key(alert: Alert) -> str:
    """The subject alone (frequency caps apply across alert kinds)."""
    return f"{alert.subject.kind}|{alert.subject.id}"


class IncidentBook:
    """Durable incident state; see the module docstring for the rules."""

    def __init__(
        self,
        path: Path,
        *,
        window_s: float = 3600.0,
        cooldown_s: float = 3600.0,
        escalation_factor: float = 2.0,
        max_per_subject: int = 6,
        cap_window_s: float = 3600.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if escalation_factor <= 1.0:
            raise ValueError("escalation_factor must be > 1")
        self.path = Path(path)
        self.window_s = window_s
        self.cooldown_s = cooldown_s
        self.escalation_factor = escalation_factor
        self.max_per_subject = max_per_subject
        self.cap_window_s = cap_window_s
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        columns = {r["name"] for r in self._conn.execute("PRAGMA table_info(incidents)")}
        if "touched_at" not in columns:  # state written before incidents ran on event time
            self._conn.execute("ALTER TABLE incidents ADD COLUMN touched_at REAL")

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

    def _now(self, now: datetime | None) -> float:
        """Wall-clock seconds (acknowledgements, status, pruning)."""
        return (now or self.clock()).timestamp()

    @staticmethod
    def _event(alert: Alert, at: datetime | None) -> float:
        """Event-time seconds of ``alert``: ``at`` when given, else the end of its window."""
        return (at or alert.window.end).timestamp()

    # ------------------------------------------------------------------ decisions

    def _worse(self, alert: Alert, base_severity: int, base_observed: float) -> bool:
        if SEVERITY_RANK[alert.severity] > base_severity:
            return True
        return alert.observed > base_observed and alert.observed >= self.escalation_factor * base_observed

    def decide(self, alert: Alert, at: datetime | None = None) -> Decision:
        """Decide whether ``alert`` is delivered; reads state only (see :meth:`record`).

        ``at``: the alert's event time (default: the end of its window)."""
        ts = self._event(alert, at)
        gap = self.window_s + self.cooldown_s
        with self._lock:
            seen = self._conn.execute(
                "SELECT incident_id, severity, observed FROM incident_alerts WHERE alert_id = ?", (alert.id,)
            ).fetchone()
            if (seen is not None and SEVERITY_RANK[alert.severity] <= seen["severity"]
                    and alert.observed <= seen["observed"]):
                return Decision(seen["incident_id"], False, "replay")
            # an unseen id, or the same detection re-evaluated with worse figures: normal rules
            row = self._conn.execute(  # the incident whose event-time span (+ window + cooldown) holds ts
                "SELECT * FROM incidents WHERE key = ? AND opened_at - ? <= ? AND last_seen_at + ? >= ?"
                " ORDER BY last_seen_at DESC LIMIT 1",
                (incident_key(alert), gap, ts, gap, ts),
            ).fetchone()
            severity_up = False
            if row is None:
                key = incident_key(alert)
                inc_id = "inc_" + hashlib.sha256(f"{key}|{alert.id}".encode()).hexdigest()[:16]
                decision = Decision(inc_id, True, "new", new_incident=True)
            else:
                in_cooldown = ts - row["last_seen_at"] > self.window_s
                if row["acked"]:
                    worse = self._worse(alert, row["ack_severity"], row["ack_observed"])
                    quiet = "acknowledged"
                    severity_up = SEVERITY_RANK[alert.severity] > row["ack_severity"]
                elif row["delivered_severity"] is None:  # nothing delivered yet (filtered or capped)
                    worse, quiet = True, "duplicate"
                else:
                    worse = self._worse(alert, row["delivered_severity"], row["delivered_observed"])
                    quiet = "cooldown" if in_cooldown else "duplicate"
                    severity_up = SEVERITY_RANK[alert.severity] > row["delivered_severity"]
                reason = ("new" if row["delivered_severity"] is None else "escalation") if worse else quiet
                decision = Decision(row["id"], worse, reason)
            if decision.deliver and not severity_up and self.max_per_subject > 0:
                (count,) = self._conn.execute(
                    "SELECT COUNT(*) FROM subject_deliveries WHERE subject_key = ? AND at > ? AND at < ?",
                    (subject_key(alert), ts - self.cap_window_s, ts + self.cap_window_s),
                ).fetchone()
                if count >= self.max_per_subject:
                    decision = Decision(decision.incident_id, False, "rate_limited", decision.new_incident)
            return decision

    def record(self, alert: Alert, decision: Decision, *, delivered: bool | None = None,
               at: datetime | None = None) -> None:
        """Store ``alert`` in its incident. ``delivered`` defaults to ``decision.deliver``;
        ``at`` is the alert's event time (default: the end of its window)."""
        if decision.reason == "replay":
            return
        delivered = decision.deliver if delivered is None else delivered
        ts = self._event(alert, at)
        touched = self._now(None)
        sev = SEVERITY_RANK[alert.severity]
        with self._tx() as db:
            if decision.new_incident:
                db.execute(
                    "INSERT OR IGNORE INTO incidents (id, key, kind, subject_kind, subject_id, opened_at,"
                    " last_seen_at, peak_severity, peak_observed, last_observed)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (decision.incident_id, incident_key(alert), alert.kind, alert.subject.kind,
                     alert.subject.id, ts, ts, sev, alert.observed, alert.observed),
                )
            db.execute(
                "UPDATE incidents SET alert_count = alert_count + 1, last_seen_at = MAX(last_seen_at, ?),"
                " opened_at = MIN(opened_at, ?), peak_severity = MAX(peak_severity, ?),"
                " peak_observed = MAX(peak_observed, ?), last_observed = ?, last_alert_id = ?, touched_at = ?"
                " WHERE id = ?",
                (ts, ts, sev, alert.observed, alert.observed, alert.id, touched, decision.incident_id),
            )
            if delivered:
                db.execute(
                    "UPDATE incidents SET delivered_count = delivered_count + 1, delivered_severity = ?,"
                    " delivered_observed = ?, last_delivered_at = ?, acked = 0 WHERE id = ?",
                    (sev, alert.observed, ts, decision.incident_id),
                )
                db.execute("INSERT INTO subject_deliveries (subject_key, at) VALUES (?, ?)",
                           (subject_key(alert), ts))
            db.execute(
                "INSERT INTO incident_alerts (alert_id, incident_id, seen_at, delivered, reason, severity, observed)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (alert_id) DO UPDATE SET"
                " incident_id = excluded.incident_id, seen_at = excluded.seen_at,"
                " delivered = MAX(delivered, excluded.delivered), reason = excluded.reason,"
                " severity = MAX(severity, excluded.severity), observed = MAX(observed, excluded.observed)",
                (alert.id, decision.incident_id, ts, int(delivered), decision.reason, sev, alert.observed),
            )

    def observe(self, alert: Alert, at: datetime | None = None) -> Decision:
        """:meth:`decide` then :meth:`record` (delivery assumed when decided)."""
        with self._lock:
            decision = self.decide(alert, at)
            self.record(alert, decision, at=at)
            return decision

    # ------------------------------------------------------------------ acknowledgement & queries

    def acknowledge(self, incident_id: str, by: str, now: datetime | None = None) -> bool:
        """Acknowledge an incident: no re-alert until it worsens beyond its peak so far.

        Returns False if there is no such incident.
        """
        ts = self._now(now)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE incidents SET acked = 1, acked_by = ?, acked_at = ?, ack_severity = peak_severity,"
                " ack_observed = peak_observed WHERE id = ?",
                (by, ts, incident_id),
            )
            return cur.rowcount > 0

    def apply_acks(self, acks: Iterable[tuple[str, str, datetime]]) -> int:
        """Apply acknowledgements recorded elsewhere (``(incident_id, by, acked_at)``, e.g. by the
        API in ClickHouse); one already applied (same or later ``acked_at``) is skipped, so
        re-applying is harmless. Returns how many incidents changed."""
        changed = 0
        with self._tx() as db:
            for incident_id, by, at in acks:
                changed += db.execute(
                    "UPDATE incidents SET acked = 1, acked_by = ?, acked_at = ?, ack_severity = peak_severity,"
                    " ack_observed = peak_observed WHERE id = ? AND (acked_at IS NULL OR acked_at < ?)",
                    (by, at.timestamp(), incident_id, at.timestamp() - 0.5),
                ).rowcount
        return changed

    def _status(self, row: sqlite3.Row, ts: float) -> IncidentStatus:
        if ts - row["last_seen_at"] > self.window_s:
            return "closed"
        return "acked" if row["acked"] else "open"

    def _incident(self, row: sqlite3.Row, ts: float) -> Incident:
        return Incident(
            id=row["id"], kind=row["kind"], subject_kind=row["subject_kind"], subject_id=row["subject_id"],
            status=self._status(row, ts), opened_at=_at(row["opened_at"]), last_seen_at=_at(row["last_seen_at"]),
            alert_count=row["alert_count"], delivered_count=row["delivered_count"],
            peak_severity=_SEVERITY_NAME[row["peak_severity"]], peak_observed=row["peak_observed"],
            acked_by=row["acked_by"], acked_at=_dt(row["acked_at"]),
        )

    def get(self, incident_id: str, now: datetime | None = None) -> Incident | None:
        """One incident, or None."""
        with self._lock:
            row = self._conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return None if row is None else self._incident(row, self._now(now))

    def list_incidents(self, status: IncidentStatus | None = None, limit: int = 100,
                       now: datetime | None = None) -> list[Incident]:
        """Most recently active incidents first, optionally only those with ``status``."""
        ts = self._now(now)
        with self._lock:
            rows = self._conn.execute("SELECT * FROM incidents ORDER BY last_seen_at DESC").fetchall()
        out = [self._incident(r, ts) for r in rows]
        return [i for i in out if status is None or i.status == status][:limit]

    def prune(self, retention_s: float = 30 * 86400.0, now: datetime | None = None) -> int:
        """Forget incidents no alert touched for ``retention_s`` of wall-clock time (so a backfill
        of old event time keeps its state while it runs) and cap bookkeeping older than the cap
        window behind the newest delivery; returns incidents removed."""
        cutoff = self._now(now) - max(retention_s, self.window_s + self.cooldown_s)
        with self._tx() as db:
            (newest,) = db.execute("SELECT MAX(at) FROM subject_deliveries").fetchone()
            if newest is not None:
                db.execute("DELETE FROM subject_deliveries WHERE at < ?", (newest - self.cap_window_s,))
            stale = "SELECT id FROM incidents WHERE COALESCE(touched_at, last_seen_at) < ?"
            db.execute(f"DELETE FROM incident_alerts WHERE incident_id IN ({stale})", (cutoff,))
            return db.execute(f"DELETE FROM incidents WHERE id IN ({stale})", (cutoff,)).rowcount
