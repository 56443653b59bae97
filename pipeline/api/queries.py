"""The API's read models: parameterised ClickHouse queries over hypermicro tables (no web framework).

All SQL uses typed placeholders; optional filters add constant SQL fragments, never values.
Counts merge the ``uniqExact`` states per minute and then add minutes up: a post has one
``created_at``, so its redeliveries share a minute and the sum stays exact, while small per-minute
sets are far cheaper than one set of millions of ids. The SQL avoids features newer than
ClickHouse 18.16 (no ``toStartOfInterval``, no ``JOIN ... ON``, no window functions), so the same
statements run on chDB and on an old server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import yaml

from pipeline.alerts.render import dashboard_path
from pipeline.api.params import Cursor, TimeRange
from pipeline.core.clock import utc_now
from pipeline.core.schema import SentimentLabel
from pipeline.storage.backend import ClickHouse

SENTIMENTS: tuple[str, ...] = get_args(SentimentLabel)
_LATEST_TABLES = {"mention_minute", "conversation_minute"}


@dataclass(frozen=True)
class Brand:
    """A configured brand: id, display name, competitors (ids) and owner."""

    id: str
    name: str
    competitors: tuple[str, ...] = ()
    owner: str = ""


def load_brands(path: Path) -> dict[str, Brand]:
    """Brands from the YAML brands file (``brands: [{id, name, competitors, owner}]``), in file order."""
    if not path.exists():
        return {}
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: dict[str, Brand] = {}
    for b in doc.get("brands", []) or []:
        bid = str(b["id"])
        out[bid] = Brand(bid, str(b.get("name") or bid), tuple(str(c) for c in b.get("competitors") or ()),
                         str(b.get("owner") or ""))
    return out


def latest_minute(ch: ClickHouse, table: str = "mention_minute", kind: str | None = None,
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
    rows = ch.query(f"SELECT count() AS n, max(minute) AS m FROM {table} WHERE {' AND '.join(where)}", params)
    return rows[0]["m"] if rows and int(rows[0]["n"]) else None


def data_now(ch: ClickHouse, table: str = "mention_minute", kind: str | None = None,
             subject: str | None = None) -> datetime:
    """Default end of a time window: the end of the newest minute with data, never later than now.

    Live, that is about now; over replayed or stale data it is where the data ends.
    """
    now = utc_now(whole_seconds=True)
    latest = latest_minute(ch, table, kind, subject)
    return now if latest is None else min(now, latest + timedelta(minutes=1))


def _epoch(v: Any) -> int:
    return int(v)


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a Z suffix."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- brands ----------------------------------------------------------------------------------
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


def brand_counts(ch: ClickHouse, ids: Sequence[str], rng: TimeRange, step: int = 0) -> list[dict[str, Any]]:
    """Mentions per brand, bucket start ``t`` (epoch s; 0 when ``step`` is 0) and sentiment toward
    the brand, deduplicated by post id.

    Whole hours come from the hourly rollup, the partial hours at the edges from the per-minute
    table (a post lies in one minute, so the parts add up exactly); buckets finer than an hour
    read minutes only.
    """
    hour_start = -(-int(rng.start.timestamp()) // 3600) * 3600
    hour_end = int(rng.end.timestamp()) // 3600 * 3600
    if step % 3600 or hour_end <= hour_start:
        hour_start = hour_end = 0  # no hour part
    def bucket(col: str) -> str:
        return f"intDiv(toUInt32({col}), {step}) * {step}" if step else "toUInt32(0)"

    sql = _BRAND_COUNTS.replace("{bucket_minute}", bucket("minute")).replace("{bucket_hour}", bucket("hour"))
    return ch.query(sql, {"ids": list(ids), "start": rng.start, "end": rng.end,
                          "hour_start": datetime.fromtimestamp(hour_start, UTC),
                          "hour_end": datetime.fromtimestamp(hour_end, UTC)})


def brand_mentions(ch: ClickHouse, ids: Sequence[str], rng: TimeRange) -> dict[str, dict[str, int]]:
    """Mentions per brand and sentiment (brand-targeted) in a range, deduplicated by post id."""
    out: dict[str, dict[str, int]] = {i: {} for i in ids}
    for r in brand_counts(ch, ids, rng):
        out.setdefault(r["subject"], {})[r["sentiment"]] = int(r["n"])
    return out


def brand_overview(ch: ClickHouse, brand: Brand, rng: TimeRange, step: int) -> dict[str, Any]:
    """Volume and sentiment per bucket, totals, and share of voice against configured competitors."""
    ids = [brand.id, *[c for c in brand.competitors if c != brand.id]]
    rows = brand_counts(ch, ids, rng, step)
    counts: dict[int, dict[str, int]] = {}
    per: dict[str, dict[str, int]] = {i: {} for i in ids}
    for r in rows:
        n = int(r["n"])
        bucket = per.setdefault(r["subject"], {})
        bucket[r["sentiment"]] = bucket.get(r["sentiment"], 0) + n
        if r["subject"] == brand.id:
            counts.setdefault(_epoch(r["t"]), {})[r["sentiment"]] = n
    first = int(rng.start.timestamp()) // step * step
    series: list[dict[str, Any]] = []
    for t in range(first, int(rng.end.timestamp()), step):
        c = counts.get(t, {})
        total = sum(c.values())
        pos, neg = c.get("positive", 0), c.get("negative", 0)
        series.append({
            "t": iso(datetime.fromtimestamp(t, UTC)), "total": total,
            **{s: c.get(s, 0) for s in SENTIMENTS},
            "net_sentiment": round((pos - neg) / total, 4) if total else None,
        })
    totals = {s: sum(p[s] for p in series) for s in SENTIMENTS}
    total = sum(totals.values())
    grand = sum(sum(v.values()) for v in per.values())
    sov = []
    for bid in ids:
        n = sum(per.get(bid, {}).values())
        sov.append({"brand": bid, "mentions": n, "share": round(n / grand, 4) if grand else 0.0,
                    "negative": per.get(bid, {}).get("negative", 0)})
    return {
        "brand": {"id": brand.id, "name": brand.name, "competitors": list(brand.competitors)},
        "from": iso(rng.start), "to": iso(rng.end), "interval_s": step,
        "totals": {"mentions": total, **totals,
                   "negative_share": round(totals["negative"] / total, 4) if total else None},
        "series": series, "share_of_voice": sov,
    }


# -- trending conversations ------------------------------------------------------------------
def trending(ch: ClickHouse, end: datetime, window_s: int, brand: str | None = None,
             topic: str | None = None, limit: int = 20, samples: int = 3) -> dict[str, Any]:
    """Conversations ranked by velocity (posts/hour in the recent half of the window), then acceleration.

    ``acceleration`` is the change of posts/hour from the earlier to the recent half.
    """
    start = end - timedelta(seconds=window_s)
    mid = end - timedelta(seconds=window_s // 2)
    half_h = window_s / 2 / 3600
    params: dict[str, Any] = {"start": start, "mid": mid, "end": end, "limit": limit}
    if brand is not None and topic is not None:  # no brand x topic aggregate: count posts directly
        params.update(brand=brand, topic=topic)
        rows = ch.query(
            """
            SELECT conversation_id,
                   uniqExactIf(id, created_at >= {mid:DateTime}) AS recent,
                   uniqExactIf(id, created_at < {mid:DateTime}) AS previous
            FROM posts
            WHERE conversation_id != '' AND has(brands, {brand:String}) AND has(topics, {topic:String})
              AND created_at >= {start:DateTime} AND created_at < {end:DateTime}
            GROUP BY conversation_id
            HAVING recent > 0
            ORDER BY recent DESC, recent - previous DESC, conversation_id
            LIMIT {limit:UInt32}
            """,
            params,
        )
    else:
        kind, subject = ("brand", brand) if brand is not None else ("topic", topic) if topic else ("all", "*")
        params.update(kind=kind, subject=subject)
        rows = ch.query(
            """
            SELECT conversation_id,
                   uniqExactMergeIf(posts, minute >= {mid:DateTime}) AS recent,
                   uniqExactMergeIf(posts, minute < {mid:DateTime}) AS previous
            FROM conversation_minute
            WHERE kind = {kind:String} AND subject = {subject:String}
              AND minute >= {start:DateTime} AND minute < {end:DateTime}
            GROUP BY conversation_id
            HAVING recent > 0
            ORDER BY recent DESC, recent - previous DESC, conversation_id
            LIMIT {limit:UInt32}
            """,
            params,
        )
    ids = [r["conversation_id"] for r in rows]
    meta: dict[str, Mapping[str, Any]] = {}
    examples: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for m in ch.query(
            """
            SELECT conversation_id, label, key_terms, size, first_seen, last_seen, merged_into
            FROM conversations FINAL WHERE has({ids:Array(String)}, conversation_id)
            """,
            {"ids": ids},
        ):
            meta[m["conversation_id"]] = m
        where = ["has({ids:Array(String)}, conversation_id)", "created_at >= {start:DateTime}",
                 "created_at < {end:DateTime}"]
        sp: dict[str, Any] = {"ids": ids, "start": start, "end": end, "samples": samples}
        if brand is not None:
            where.append("has(brands, {brand:String})")
            sp["brand"] = brand
        if topic is not None:
            where.append("has(topics, {topic:String})")
            sp["topic"] = topic
        for p in ch.query(
            f"""
            SELECT conversation_id, id, url, created_at, author_handle, text, sentiment_label, engagement
            FROM (
                SELECT conversation_id, id, url, created_at, author_handle, text, sentiment_label,
                       likes + reposts + replies + quotes AS engagement
                FROM posts
                WHERE {' AND '.join(where)}
                ORDER BY _version DESC
                LIMIT 1 BY id
            )
            ORDER BY engagement DESC, created_at DESC, id
            LIMIT {{samples:UInt32}} BY conversation_id
            """,
            sp,
        ):
            examples.setdefault(p["conversation_id"], []).append({
                "id": p["id"], "url": p["url"], "created_at": iso(p["created_at"]),
                "author_handle": p["author_handle"], "text": p["text"][:500],
                "sentiment": p["sentiment_label"], "engagement": int(p["engagement"]),
            })
    items = []
    for rank, r in enumerate(rows, 1):
        recent, previous = int(r["recent"]), int(r["previous"])
        info: Mapping[str, Any] = meta.get(r["conversation_id"], {})
        items.append({
            "rank": rank, "conversation_id": r["conversation_id"],
            "label": info.get("label") or ", ".join(list(info.get("key_terms") or [])[:3]) or r["conversation_id"],
            "key_terms": list(info.get("key_terms") or []),
            "size": int(info.get("size") or 0), "merged_into": info.get("merged_into") or None,
            "posts": recent + previous, "recent": recent, "previous": previous,
            "velocity": round(recent / half_h, 3), "acceleration": round((recent - previous) / half_h, 3),
            "sample_posts": examples.get(r["conversation_id"], []),
        })
    return {"from": iso(start), "to": iso(end), "window_s": window_s, "brand": brand, "topic": topic,
            "items": items}


# -- emerging voices -------------------------------------------------------------------------
def voices(ch: ClickHouse, subject: str, limit: int = 20) -> dict[str, Any]:
    """The latest emerging-voices snapshot of a subject, best rank first."""
    rows = ch.query(
        """
        SELECT author_id, handle, rank, score, growth, reach, resonance, relevance, reasons, snapshot_at
        FROM emerging_voices FINAL
        WHERE subject_id = {subject:String}
          AND snapshot_at = (SELECT max(snapshot_at) FROM emerging_voices WHERE subject_id = {subject:String})
        ORDER BY rank
        LIMIT {limit:UInt32}
        """,
        {"subject": subject, "limit": limit},
    )
    return {
        "subject": subject,
        "snapshot_at": iso(rows[0]["snapshot_at"]) if rows else None,
        "items": [{
            "rank": int(r["rank"]), "author_id": r["author_id"], "handle": r["handle"],
            **{k: round(float(r[k]), 4) for k in ("score", "growth", "reach", "resonance", "relevance")},
            "reasons": list(r["reasons"]),
        } for r in rows],
    }


# -- alerts ----------------------------------------------------------------------------------
_ALERT_COLUMNS = """id, kind, subject_kind, subject_id, brand_id, topic_id, severity, score, window_start,
    window_end, observed, expected, explanation, incident_id, owners, created_at"""


@dataclass
class AlertFilter:
    kind: str | None = None
    brand: str | None = None
    severity: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    acknowledged: bool | None = None


def _utc(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


def _alert_out(r: Mapping[str, Any]) -> dict[str, Any]:
    acked = bool(r.get("acked_by"))
    digest = r["kind"] == "rising_voice" and r["subject_id"].startswith("voices:")
    return {
        "id": r["id"], "kind": r["kind"],
        "subject": {"kind": r["subject_kind"], "id": r["subject_id"], "brand_id": r["brand_id"] or None,
                    "topic_id": r["topic_id"] or None},
        "severity": r["severity"], "score": round(float(r["score"]), 4),
        "window": {"start": iso(r["window_start"]), "end": iso(r["window_end"])},
        "observed": float(r["observed"]), "expected": float(r["expected"]),
        "explanation": r["explanation"], "incident_id": r["incident_id"] or None,
        "owners": list(r["owners"]), "created_at": iso(r["created_at"]),
        "acknowledged": acked,
        "ack": {"by": r["acked_by"], "at": iso(r["acked_at"]), "note": r["ack_note"]} if acked else None,
        "link": dashboard_path(r["id"], None if digest else (r["brand_id"] or None), _utc(r["window_start"]),
                               _utc(r["window_end"])),
    }


_SEVERITY_RANK_SQL = "multiIf(severity = 'critical', 2, severity = 'warning', 1, 0)"


def alert_cursor(row: Mapping[str, Any]) -> Cursor:
    """Keyset position of an alert row: ``<severity rank>:<id>`` rides in the cursor's id."""
    return Cursor(row["created_at"], f"{int(row['sev_rank'])}:{row['id']}")


def list_alerts(ch: ClickHouse, f: AlertFilter, limit: int, cursor: Cursor | None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Alerts most severe first, newest first within a severity (a critical spike is never buried
    under rising-voice information), with their acknowledgement; keyset-paginated on
    (severity, created_at, id)."""
    where, outer = ["1"], ["1"]
    params: dict[str, Any] = {"limit": limit + 1}
    for col, key, val in (("kind", "kind", f.kind), ("brand_id", "brand", f.brand), ("severity", "severity", f.severity)):
        if val is not None:
            where.append(f"{col} = {{{key}:String}}")
            params[key] = val
    if f.start is not None:
        where.append("created_at >= {start:DateTime}")
        params["start"] = f.start
    if f.end is not None:
        where.append("created_at < {end:DateTime}")
        params["end"] = f.end
    if cursor is not None:
        rank, _, cid = cursor.id.partition(":")
        if not (rank in ("0", "1", "2") and cid):  # a cursor without a rank: take it as the top rank
            rank, cid = "2", cursor.id
        where.append(f"({_SEVERITY_RANK_SQL} < {{crank:UInt8}} OR ({_SEVERITY_RANK_SQL} = {{crank:UInt8}} AND "
                     "(created_at < {ct:DateTime} OR (created_at = {ct:DateTime} AND id < {cid:String}))))")
        params.update(crank=int(rank), ct=cursor.created_at, cid=cid)
    if f.acknowledged is not None:
        outer.append("(acked_by != '') = {acked:UInt8}")
        params["acked"] = 1 if f.acknowledged else 0
    rows = ch.query(
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
    nxt = alert_cursor(page[-1]) if len(rows) > limit else None
    return [_alert_out(r) for r in page], nxt


def get_alert(ch: ClickHouse, alert_id: str) -> dict[str, Any] | None:
    """One alert with its acknowledgement state, or None."""
    rows = ch.query(
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
    return _alert_out(rows[0]) if rows else None


# -- posts -----------------------------------------------------------------------------------
@dataclass
class PostFilter:
    brand: str | None = None
    topic: str | None = None
    sentiment: str | None = None
    language: str | None = None
    author: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    q: str | None = None


def search_posts(ch: ClickHouse, f: PostFilter, limit: int, cursor: Cursor | None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Posts newest first matching every given filter; ``q`` is a case-insensitive substring.

    Deduplicated by id (newest version). A post re-enriched with different tags may match on its
    previous version until ClickHouse merges the parts.
    """
    where: list[str] = ["1"]
    params: dict[str, Any] = {}
    if f.brand is not None:
        where.append("has(brands, {brand:String})")
        params["brand"] = f.brand
    if f.topic is not None:
        where.append("has(topics, {topic:String})")
        params["topic"] = f.topic
    if f.sentiment is not None:  # toward the brand when filtering by brand, else the post's sentiment
        where.append("brand_sentiments[indexOf(brands, {brand:String})] = {sentiment:String}" if f.brand is not None
                     else "sentiment_label = {sentiment:String}")
        params["sentiment"] = f.sentiment
    if f.language is not None:
        where.append("language = {language:String}")
        params["language"] = f.language
    if f.author is not None:
        where.append("(author_id = {author:String} OR author_handle = {author:String})")
        params["author"] = f.author
    if f.start is not None:
        where.append("created_at >= {start:DateTime}")
        params["start"] = f.start
    if f.end is not None:
        where.append("created_at < {end:DateTime}")
        params["end"] = f.end
    if f.q is not None:
        where.append("positionCaseInsensitive(text, {q:String}) > 0")
        params["q"] = f.q
    if cursor is not None:
        where.append("(created_at < {ct:DateTime} OR (created_at = {ct:DateTime} AND id < {cid:String}))")
        params.update(ct=cursor.created_at, cid=cursor.id)
    # No FINAL: ordering by the sorting key's prefix lets ClickHouse read the newest parts first and
    # stop early (FINAL over a wide range takes seconds). Unmerged redeliveries of a post sit next to
    # each other in this order; the newest version (_version) is kept, so take some spare rows.
    fetch = 2 * limit + 1
    params["limit"] = fetch
    rows = ch.query(
        f"""
        SELECT id, source, url, created_at, text, language, author_id, author_handle, author_followers,
               brands, brand_sentiments, sentiment_label, sentiment_score, topics, conversation_id,
               likes, reposts, replies, quotes, _version
        FROM posts
        WHERE {' AND '.join(where)}
        ORDER BY toStartOfHour(created_at) DESC, created_at DESC, id DESC, _version DESC
        LIMIT {{limit:UInt32}}
        """,
        params,
    )
    unique: list[dict[str, Any]] = []
    for r in rows:
        if not unique or unique[-1]["id"] != r["id"]:
            unique.append(r)
    page = unique[:limit]
    more = len(rows) == fetch or len(unique) > limit
    nxt = Cursor(page[-1]["created_at"], page[-1]["id"]) if more and page else None
    return [{
        "id": r["id"], "source": r["source"], "url": r["url"] or None, "created_at": iso(r["created_at"]),
        "text": r["text"], "language": r["language"],
        "author": {"id": r["author_id"], "handle": r["author_handle"], "followers": int(r["author_followers"])},
        "brands": [{"id": b, "sentiment": s} for b, s in zip(r["brands"], r["brand_sentiments"], strict=False)],
        "sentiment": {"label": r["sentiment_label"], "score": round(float(r["sentiment_score"]), 4)},
        "topics": list(r["topics"]), "conversation_id": r["conversation_id"] or None,
        "engagement": {k: int(r[k]) for k in ("likes", "reposts", "replies", "quotes")},
    } for r in page], nxt
