"""Mention counts from the per-minute and per-hour rollups (``mention_minute``, ``mention_hour``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pipeline.core.clock import utc_now
from pipeline.storage.backend import ClickHouse, Row

_LATEST_TABLES = {"mention_minute", "conversation_minute"}

_BRAND_COUNTS = """
SELECT subject, t, sentiment, sum(n) AS n
FROM (
    SELECT subject, {bucket_minute} AS t, sentiment, uniqExactMerge(posts) AS n
    FROM mention_minute
    WHERE kind = 'brand' AND has({ids:Array(String)}, subject)
      AND minute >= {start:DateTime} AND minute < {end:DateTime}
      AND NOT (minute >= {hour_start:DateTime} AND minute < {hour_end:DateTime})
    GROUP BY subject, t, sentiment
    UNION ALL
    SELECT subject, {bucket_hour} AS t, sentiment, uniqExactMerge(posts) AS n
    FROM mention_hour
    WHERE kind = 'brand' AND has({ids:Array(String)}, subject)
      AND hour >= {hour_start:DateTime} AND hour < {hour_end:DateTime}
    GROUP BY subject, t, sentiment
)
GROUP BY subject, t, sentiment
"""


class MentionReads:
    """Where the data ends and how many mentions each brand had, per bucket and sentiment."""

    def __init__(self, ch: ClickHouse) -> None:
        self._ch = ch

    def latest_minute(self, table: str = "mention_minute", kind: str | None = None,
                      subject: str | None = None) -> datetime | None:
        """Newest minute with data (optionally for one kind/subject), or None when empty."""
        if table not in _LATEST_TABLES:
            raise ValueError(f"unknown table {table!r}")
        where, params = ["1"], {}
        if kind is not None:
            where.append("kind = {kind:String}")
            params["kind"] = kind
        if subject is not None:
            where.append("subject = {subject:String}")
            params["subject"] = subject
        rows = self._ch.query(f"SELECT count() AS n, max(minute) AS m FROM {table} WHERE {' AND '.join(where)}",
                              params)
        return rows[0]["m"] if rows and int(rows[0]["n"]) else None

    def data_now(self, table: str = "mention_minute", kind: str | None = None,
                 subject: str | None = None) -> datetime:
        """Default end of a time window: the end of the newest minute with data, never later than now.

        Live, that is about now; over replayed or stale data it is where the data ends.
        """
        now = utc_now(whole_seconds=True)
        latest = self.latest_minute(table, kind, subject)
        return now if latest is None else min(now, latest + timedelta(minutes=1))

    def brand_counts(self, ids: Sequence[str], start: datetime, end: datetime, step: int = 0) -> list[Row]:
        """Mentions (``n``) per brand (``subject``), bucket start ``t`` (epoch s; 0 when ``step`` is
        0) and ``sentiment`` toward the brand, deduplicated by post id.

        Whole hours come from the hourly rollup, the partial hours at the edges from the per-minute
        table (a post lies in one minute, so the parts add up exactly); buckets finer than an hour
        read minutes only.
        """
        hour_start = -(-int(start.timestamp()) // 3600) * 3600
        hour_end = int(end.timestamp()) // 3600 * 3600
        if step % 3600 or hour_end <= hour_start:
            hour_start = hour_end = 0  # no hour part

        def bucket(col: str) -> str:
            return f"intDiv(toUInt32({col}), {int(step)}) * {int(step)}" if step else "toUInt32(0)"

        sql = _BRAND_COUNTS.replace("{bucket_minute}", bucket("minute")).replace("{bucket_hour}", bucket("hour"))
        return self._ch.query(sql, {"ids": list(ids), "start": start, "end": end,
                                    "hour_start": datetime.fromtimestamp(hour_start, UTC),
                                    "hour_end": datetime.fromtimestamp(hour_end, UTC)})

    def by_brand(self, ids: Sequence[str], start: datetime, end: datetime) -> dict[str, dict[str, int]]:
        """Mentions per brand and sentiment (brand-targeted) in ``[start, end)``, deduplicated by post id."""
        out: dict[str, dict[str, int]] = {i: {} for i in ids}
        for r in self.brand_counts(ids, start, end):
            out.setdefault(r["subject"], {})[r["sentiment"]] = int(r["n"])
        return out
