"""Typed reads and writes of hypermicro tables, on either backend (same SQL)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.schema import Alert, EnrichedPost
from pipeline.storage.backend import ClickHouse, utc_now

MONTHS_PER_INSERT = 50
"""Distinct ``toYYYYMM(created_at)`` partitions per posts INSERT: half of ClickHouse's default
``max_partitions_per_insert_block`` (100), so a batch with posts from any number of months is
written in several inserts instead of failing (redelivered rows are deduplicated by id)."""


def _ts(value: datetime) -> datetime:
    return value.replace(microsecond=0)


def post_row(e: EnrichedPost) -> dict[str, Any]:
    """Flatten an EnrichedPost into a ``posts`` row (one brand per array slot)."""
    p = e.post
    by_brand: dict[str, Any] = {}
    for b in e.brands:  # one slot per brand; first mention's rule and sentiment win
        by_brand.setdefault(b.brand_id, b)
    brands = list(by_brand.values())
    return {
        "id": p.id,
        "source": p.source,
        "url": p.url or "",
        "created_at": _ts(p.created_at),
        "collected_at": _ts(p.collected_at),
        "enriched_at": _ts(e.enriched_at),
        "text": p.text,
        "lang": p.lang or "",
        "language": e.language,
        "author_id": p.author.id,
        "author_handle": p.author.handle,
        "author_name": p.author.display_name,
        "author_followers": min(p.author.followers, 2**32 - 1),
        "author_following": min(p.author.following, 2**32 - 1),
        "reply_to_author": p.reply_to_author or "",
        "reply_to_post": p.reply_to_post or "",
        "repost_of_author": p.repost_of_author or "",
        "quote_of_author": p.quote_of_author or "",
        "mentions": list(p.mentions),
        "hashtags": list(p.hashtags),
        "links": list(p.links),
        "likes": min(p.engagement.likes, 2**32 - 1),
        "reposts": min(p.engagement.reposts, 2**32 - 1),
        "replies": min(p.engagement.replies, 2**32 - 1),
        "quotes": min(p.engagement.quotes, 2**32 - 1),
        "brands": [b.brand_id for b in brands],
        "brand_rules": [b.rule for b in brands],
        "brand_sentiments": [b.sentiment or e.sentiment.label for b in brands],
        "brand_scores": [float(b.sentiment_score if b.sentiment_score is not None else e.sentiment.score) for b in brands],
        "sentiment_label": e.sentiment.label,
        "sentiment_score": float(e.sentiment.score),
        "sentiment_confidence": float(e.sentiment.confidence),
        "topics": [t.topic_id for t in e.topics],
        "topic_scores": [float(t.score) for t in e.topics],
        "duplicate_of": e.duplicate_of or "",
        "conversation_id": e.conversation_id or "",
        "_partition": e.kafka_partition,
        "_offset": e.kafka_offset,
        "_version": time.time_ns() // 1000,
    }


def month_groups(posts: Sequence[EnrichedPost], months: int = MONTHS_PER_INSERT) -> list[list[EnrichedPost]]:
    """Split ``posts`` (order kept within a month) into groups spanning at most ``months``
    distinct calendar months of ``created_at`` (UTC), oldest first."""
    by_month: dict[tuple[int, int], list[EnrichedPost]] = {}
    for p in posts:
        by_month.setdefault((p.post.created_at.year, p.post.created_at.month), []).append(p)
    keys = sorted(by_month)
    return [[p for k in keys[i:i + months] for p in by_month[k]] for i in range(0, len(keys), months)]


def alert_row(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind,
        "subject_kind": a.subject.kind,
        "subject_id": a.subject.id,
        "brand_id": a.subject.brand_id or "",
        "topic_id": a.subject.topic_id or "",
        "severity": a.severity,
        "score": float(a.score),
        "window_start": _ts(a.window.start),
        "window_end": _ts(a.window.end),
        "observed": float(a.observed),
        "expected": float(a.expected),
        "explanation": a.explanation,
        "incident_id": a.incident_id or "",
        "owners": list(a.owners),
        "created_at": _ts(a.created_at),
        "payload": a.model_dump_json(),
    }


@dataclass(frozen=True)
class MinuteCount:
    kind: str
    subject: str
    minute: datetime
    total: int
    negative: int


class Repository:
    """The pipeline's and API's view of ClickHouse."""

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    # -- writes -------------------------------------------------------------------------
    def insert_posts(self, posts: Sequence[EnrichedPost]) -> int:
        """Insert posts, one INSERT per group of at most :data:`MONTHS_PER_INSERT` months."""
        return sum(self.ch.insert("posts", [post_row(p) for p in group]) for group in month_groups(posts))

    def insert_alerts(self, alerts: Sequence[Alert]) -> int:
        return self.ch.insert("alerts", [alert_row(a) for a in alerts])

    def acknowledge(self, incident_id: str, alert_id: str, by: str, note: str = "") -> None:
        self.ch.insert("alert_acks", [{
            "incident_id": incident_id, "alert_id": alert_id, "acked_by": by, "note": note, "acked_at": utc_now(),
        }])

    def upsert_conversations(self, rows: Iterable[dict[str, Any]]) -> int:
        now = utc_now()
        out = [{
            "conversation_id": r["conversation_id"],
            "label": r.get("label") or ", ".join(r.get("key_terms", [])[:3]),
            "key_terms": list(r.get("key_terms", [])),
            "size": int(r.get("size", 0)),
            "first_seen": _ts(r["first_seen"]),
            "last_seen": _ts(r["last_seen"]),
            "merged_into": r.get("merged_into") or "",
            "updated_at": now,
        } for r in rows]
        return self.ch.insert("conversations", out)

    def replace_voices(self, subject_id: str, ranks: Sequence[Any]) -> int:
        """Store a ranking snapshot (objects with author_id, handle, score, growth, reach, resonance, relevance, reasons)."""
        now = utc_now()
        rows = [{
            "subject_id": subject_id, "author_id": r.author_id, "handle": r.handle, "rank": i + 1,
            "score": float(r.score), "growth": float(r.growth), "reach": float(r.reach),
            "resonance": float(r.resonance), "relevance": float(r.relevance),
            "reasons": list(r.reasons), "snapshot_at": now,
        } for i, r in enumerate(ranks)]
        return self.ch.insert("emerging_voices", rows)

    # -- reads --------------------------------------------------------------------------
    def count_posts(self) -> int:
        return int(self.ch.query("SELECT count() AS n FROM (SELECT id FROM posts FINAL)")[0]["n"])

    def latest_minute(self) -> datetime | None:
        """Newest minute in the per-minute aggregates (event time), or None when empty."""
        rows = self.ch.query("SELECT count() AS n, max(minute) AS m FROM mention_minute")
        return rows[0]["m"] if rows and int(rows[0]["n"]) else None

    def low_watermark(self, active_within: timedelta = timedelta(minutes=10)) -> datetime | None:
        """Event-time low watermark: the oldest of the per-partition newest stored posts, over
        partitions that stored something recently (a replay's lagging partition holds it back)."""
        rows = self.ch.query(
            "SELECT _partition AS p, max(created_at) AS m FROM posts "
            "WHERE enriched_at >= {since:DateTime} GROUP BY p",
            {"since": utc_now() - active_within},
        )
        return min(r["m"] for r in rows) if rows else None

    def minute_counts(self, since: datetime, kinds: Sequence[str] = ("brand",)) -> list[MinuteCount]:
        """Deduplicated per-minute totals and negatives per subject from the materialized aggregates."""
        rows = self.ch.query(
            """
            SELECT kind, subject, minute,
                   uniqExactMerge(posts) AS total,
                   uniqExactMergeIf(posts, sentiment = 'negative') AS negative
            FROM mention_minute
            WHERE minute >= {since:DateTime} AND has({kinds:Array(String)}, kind)
            GROUP BY kind, subject, minute
            ORDER BY minute, kind, subject
            """,
            {"since": _ts(since), "kinds": list(kinds)},
        )
        return [MinuteCount(r["kind"], r["subject"], r["minute"], int(r["total"]), int(r["negative"])) for r in rows]

    def spike_evidence(self, brand: str, start: datetime, end: datetime, limit: int = 5) -> dict[str, Any]:
        """Top negative posts by reach, top authors and negative share for a brand in a window."""
        params = {"brand": brand, "start": _ts(start), "end": _ts(end), "limit": limit}
        posts = self.ch.query(
            """
            SELECT id, author_handle, author_followers, text, likes + reposts + replies + quotes AS engagement
            FROM posts FINAL
            WHERE has(brands, {brand:String}) AND created_at >= {start:DateTime} AND created_at < {end:DateTime}
              AND brand_sentiments[indexOf(brands, {brand:String})] = 'negative'
            ORDER BY author_followers + 10 * engagement DESC
            LIMIT {limit:UInt32}
            """,
            params,
        )
        share = self.ch.query(
            """
            SELECT count() AS n, countIf(brand_sentiments[indexOf(brands, {brand:String})] = 'negative') AS neg
            FROM posts FINAL
            WHERE has(brands, {brand:String}) AND created_at >= {start:DateTime} AND created_at < {end:DateTime}
            """,
            params,
        )
        convs = self.ch.query(
            """
            SELECT conversation_id, count() AS n FROM posts FINAL
            WHERE has(brands, {brand:String}) AND created_at >= {start:DateTime} AND created_at < {end:DateTime}
              AND conversation_id != '' AND brand_sentiments[indexOf(brands, {brand:String})] = 'negative'
            GROUP BY conversation_id ORDER BY n DESC LIMIT 3
            """,
            params,
        )
        n = int(share[0]["n"]) if share else 0
        neg = int(share[0]["neg"]) if share else 0
        return {
            "post_ids": [r["id"] for r in posts],
            "authors": list(dict.fromkeys(r["author_handle"] for r in posts if r["author_handle"])),
            "texts": [r["text"][:280] for r in posts],
            "negative_share": (neg / n) if n else None,
            "conversations": [r["conversation_id"] for r in convs],
        }


POST_FIELDS = """id, source, created_at, collected_at, text, language, author_id, author_handle, author_name,
    author_followers, author_following, reply_to_author, reply_to_post, repost_of_author, quote_of_author,
    mentions, hashtags, likes, reposts, replies, quotes, brands, topics, _version"""


def raw_post_of(row: dict[str, Any]) -> Any:
    """Rebuild the RawPost view of a ``posts`` row (for detectors that replay stored posts)."""
    from pipeline.schema import RawPost

    return RawPost.model_validate({
        "id": row["id"], "source": row["source"], "created_at": row["created_at"],
        "collected_at": row["collected_at"], "text": row["text"], "lang": row["language"] or None,
        "author": {"id": row["author_id"], "handle": row["author_handle"], "display_name": row["author_name"],
                   "followers": row["author_followers"], "following": row["author_following"]},
        "reply_to_author": row["reply_to_author"], "reply_to_post": row["reply_to_post"],
        "repost_of_author": row["repost_of_author"], "quote_of_author": row["quote_of_author"],
        "mentions": row["mentions"], "hashtags": row["hashtags"],
        "engagement": {"likes": row["likes"], "reposts": row["reposts"], "replies": row["replies"],
                       "quotes": row["quotes"]},
    })


def posts_since(repo: Repository, version: int, limit: int = 20000) -> list[dict[str, Any]]:
    """Rows written after ``version`` (the ``_version`` insert clock), oldest post first."""
    return repo.ch.query(
        f"SELECT {POST_FIELDS} FROM posts WHERE _version > {{v:UInt64}} "
        "ORDER BY _version LIMIT {n:UInt32}",
        {"v": version, "n": limit},
    )
