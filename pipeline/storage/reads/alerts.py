"""Stored alerts with their acknowledgement (``alerts`` joined with ``alert_acks``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.storage.backend import ClickHouse, Row
from pipeline.storage.reads.keyset import Keyset

_ALERT_COLUMNS = """id, kind, subject_kind, subject_id, brand_id, topic_id, severity, score, window_start,
    window_end, observed, expected, explanation, incident_id, owners, created_at"""
_SEVERITY_RANK_SQL = "multiIf(severity = 'critical', 2, severity = 'warning', 1, 0)"


@dataclass
class AlertFilter:
    """Alerts to list; ``None`` means any."""

    kind: str | None = None
    brand: str | None = None
    severity: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    acknowledged: bool | None = None


def alert_keyset(row: Row) -> Keyset:
    """Keyset position of an alert row: ``<severity rank>:<id>`` rides in the keyset's id."""
    return Keyset(row["created_at"], f"{int(row['sev_rank'])}:{row['id']}")


class AlertReads:
    """Alerts most severe first, and single alerts, each with its newest acknowledgement
    (``acked_by``, ``acked_at``, ``ack_note``; ``acked_by`` is empty when not acknowledged)."""

    def __init__(self, ch: ClickHouse) -> None:
        self._ch = ch

    def acks_since(self, since: datetime) -> list[Row]:
        """Acknowledgements of incidents (``incident_id``, ``acked_by``, ``acked_at``) since ``since``, oldest first."""
        return self._ch.query(
            "SELECT incident_id, acked_by, acked_at FROM alert_acks"
            " WHERE incident_id != '' AND acked_at >= {since:DateTime} ORDER BY acked_at",
            {"since": since})

    def page(self, f: AlertFilter, limit: int, after: Keyset | None) -> tuple[list[Row], Keyset | None]:
        """Alerts most severe first, newest first within a severity (a critical spike is never buried
        under rising-voice information), keyset-paginated on (severity, created_at, id); the next
        page's position or None."""
        where, outer = ["1"], ["1"]
        params: dict[str, Any] = {"limit": limit + 1}
        for col, key, val in (("kind", "kind", f.kind), ("brand_id", "brand", f.brand),
                              ("severity", "severity", f.severity)):
            if val is not None:
                where.append(f"{col} = {{{key}:String}}")
                params[key] = val
        if f.start is not None:
            where.append("created_at >= {start:DateTime}")
            params["start"] = f.start
        if f.end is not None:
            where.append("created_at < {end:DateTime}")
            params["end"] = f.end
        if after is not None:
            rank, _, cid = after.id.partition(":")
            if not (rank in ("0", "1", "2") and cid):  # a position without a rank: take it as the top rank
                rank, cid = "2", after.id
            where.append(f"({_SEVERITY_RANK_SQL} < {{crank:UInt8}} OR ({_SEVERITY_RANK_SQL} = {{crank:UInt8}} AND "
                         "(created_at < {ct:DateTime} OR (created_at = {ct:DateTime} AND id < {cid:String}))))")
            params.update(crank=int(rank), ct=after.created_at, cid=cid)
        if f.acknowledged is not None:
            outer.append("(acked_by != '') = {acked:UInt8}")
            params["acked"] = 1 if f.acknowledged else 0
        rows = self._ch.query(
            f"""
            SELECT {_ALERT_COLUMNS}, sev_rank, acked_by, last_acked_at AS acked_at, ack_note
            FROM (SELECT {_ALERT_COLUMNS}, {_SEVERITY_RANK_SQL} AS sev_rank FROM alerts FINAL
                  WHERE {' AND '.join(where)}) AS a
            ANY LEFT JOIN (
                SELECT alert_id AS id, argMax(alert_acks.acked_by, alert_acks.acked_at) AS acked_by,
                       max(alert_acks.acked_at) AS last_acked_at, argMax(note, alert_acks.acked_at) AS ack_note
                FROM alert_acks GROUP BY alert_id
            ) AS k USING id
            WHERE {' AND '.join(outer)}
            ORDER BY sev_rank DESC, created_at DESC, id DESC
            LIMIT {{limit:UInt32}}
            """,
            params,
        )
        page = rows[:limit]
        return page, alert_keyset(page[-1]) if len(rows) > limit else None

    def one(self, alert_id: str) -> Row | None:
        """One alert with its acknowledgement, or None."""
        rows = self._ch.query(
            f"""
            SELECT {_ALERT_COLUMNS}, acked_by, last_acked_at AS acked_at, ack_note
            FROM (SELECT {_ALERT_COLUMNS} FROM alerts FINAL WHERE id = {{id:String}}) AS a
            ANY LEFT JOIN (
                SELECT alert_id AS id, argMax(alert_acks.acked_by, alert_acks.acked_at) AS acked_by,
                       max(alert_acks.acked_at) AS last_acked_at, argMax(note, alert_acks.acked_at) AS ack_note
                FROM alert_acks WHERE alert_id = {{id:String}} GROUP BY alert_id
            ) AS k USING id
            """,
            {"id": alert_id},
        )
        return rows[0] if rows else None

    def summary(self) -> list[Row]:
        """Every alert's kind, subject, severity, window and explanation, oldest window end first."""
        return self._ch.query("SELECT kind, subject_id, severity, window_start, window_end, explanation "
                              "FROM alerts FINAL ORDER BY window_end")
