"""Typed reads and writes of hypermicro tables, on either backend (same SQL).

:class:`Repository` is the one door to ClickHouse for the pipeline and the API: writes and the
detectors' reads are its methods; the API's reads are its read objects (:mod:`pipeline.storage.reads`)
and the roster's its stores (:mod:`pipeline.storage.roster`, :mod:`pipeline.storage.roster_posts`).
"""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson

from pipeline.core.clock import utc_now
from pipeline.core.schema import Alert, EnrichedPost
from pipeline.storage.backend import ClickHouse, Row, whole_seconds
from pipeline.storage.posts_table import VOICE_COLUMNS, month_groups, post_row
from pipeline.storage.reads.alerts import AlertReads
from pipeline.storage.reads.conversations import ConversationReads
from pipeline.storage.reads.mentions import MentionReads
from pipeline.storage.reads.posts import PostReads
from pipeline.storage.reads.voices import VoiceReads
from pipeline.storage.roster import RosterStore
from pipeline.storage.roster_posts import VoicePosts


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
        "window_start": whole_seconds(a.window.start),
        "window_end": whole_seconds(a.window.end),
        "observed": float(a.observed),
        "expected": float(a.expected),
        "explanation": a.explanation,
        "incident_id": a.incident_id or "",
        "owners": list(a.owners),
        "created_at": whole_seconds(a.created_at),
        "payload": a.model_dump_json(),
    }


@dataclass(frozen=True)
class BucketCount:
    """Deduplicated mentions of one subject in one bucket ``[start, start + bucket_s)``."""

    kind: str
    subject: str
    start: datetime
    total: int
    negative: int


WATERMARK_SUPPORT = 3
"""Posts a partition's watermark needs behind it: it is the event time its 3 newest recent posts
have reached, so one or two outlier dates per partition cannot move it."""


class RankedVoice(Protocol):
    """One row of an emerging-voices ranking, as :meth:`Repository.replace_voices` stores it."""

    @property
    def author_id(self) -> str: ...
    @property
    def handle(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def growth(self) -> float: ...
    @property
    def reach(self) -> float: ...
    @property
    def resonance(self) -> float: ...
    @property
    def relevance(self) -> float: ...
    @property
    def reasons(self) -> Sequence[str]: ...


class Repository:
    """The pipeline's and API's view of ClickHouse (every read and write of every table)."""

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self.mentions = MentionReads(ch)
        self.conversations = ConversationReads(ch)
        self.voices = VoiceReads(ch)
        self.alerts = AlertReads(ch)
        self.posts = PostReads(ch)
        self.roster = RosterStore(ch)
        self.voice_posts = VoicePosts(ch)

    @property
    def backend(self) -> str:
        """Which backend serves this repository (``chdb`` or ``server``)."""
        return self.ch.name

    def server_version(self) -> tuple[int, ...]:
        """ClickHouse version as a tuple of ints (a cheap reachability check)."""
        return self.ch.server_version()

    # -- writes -------------------------------------------------------------------------
    def insert_posts(self, posts: Sequence[EnrichedPost]) -> int:
        """Insert posts, one INSERT per group of at most :data:`~pipeline.storage.posts_table.MONTHS_PER_INSERT` months."""
        return sum(self.ch.insert("posts", [post_row(p) for p in group]) for group in month_groups(posts))

    def insert_alerts(self, alerts: Sequence[Alert]) -> int:
        return self.ch.insert("alerts", [alert_row(a) for a in alerts])

    def acknowledge(self, incident_id: str, alert_id: str, by: str, note: str = "") -> None:
        self.ch.insert("alert_acks", [{
            "incident_id": incident_id, "alert_id": alert_id, "acked_by": by, "note": note, "acked_at": utc_now(whole_seconds=True),
        }])

    def upsert_conversations(self, rows: Iterable[Mapping[str, Any]]) -> int:
        now = utc_now(whole_seconds=True)
        out = [{
            "conversation_id": r["conversation_id"],
            "label": r.get("label") or ", ".join(r.get("key_terms", [])[:3]),
            "key_terms": list(r.get("key_terms", [])),
            "size": int(r.get("size", 0)),
            "first_seen": whole_seconds(r["first_seen"]),
            "last_seen": whole_seconds(r["last_seen"]),
            "merged_into": r.get("merged_into") or "",
            "updated_at": now,
        } for r in rows]
        return self.ch.insert("conversations", out)

    def replace_voices(self, subject_id: str, ranks: Sequence[RankedVoice]) -> int:
        """Store a ranking snapshot of ``subject_id``, best first."""
        now = utc_now(whole_seconds=True)
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
        return self.mentions.latest_minute()

    def posts_since(self, version: int, limit: int = 20000) -> list[Row]:
        """Rows (:data:`~pipeline.storage.posts_table.VOICE_COLUMNS`) written after ``version``
        (the ``_version`` insert clock), in insert order."""
        return self.ch.query(
            f"SELECT {VOICE_COLUMNS} FROM posts WHERE _version > {{v:UInt64}} ORDER BY _version LIMIT {{n:UInt32}}",
            {"v": version, "n": limit},
        )

    def low_watermark(self, active_within: timedelta = timedelta(minutes=10),
                      skew: timedelta = timedelta(minutes=5)) -> datetime | None:
        """Event-time low watermark: the oldest over partitions that stored something recently
        of each partition's newest event time, robust to outliers in time.

        A partition's newest event time is the one its :data:`WATERMARK_SUPPORT` newest posts
        have reached (a lone future- or past-dated post cannot move it), and posts dated more
        than ``skew`` past the wall clock never count (nothing is final before it happened).
        A replay's lagging partition holds the watermark back."""
        now = utc_now(whole_seconds=True)
        rows = self.ch.query(
            """
            SELECT p, min(created_at) AS m FROM (
                SELECT DISTINCT _partition AS p, id, created_at FROM posts
                WHERE enriched_at >= {since:DateTime} AND created_at <= {ceiling:DateTime}
                ORDER BY created_at DESC LIMIT {k:UInt32} BY p
            ) GROUP BY p
            """,
            {"since": whole_seconds(now - active_within), "ceiling": whole_seconds(now + skew), "k": WATERMARK_SUPPORT},
        )
        return min(r["m"] for r in rows) if rows else None

    def first_minute(self, since: datetime, kinds: Sequence[str] = ("brand",)) -> datetime | None:
        """Oldest stored minute at or after ``since`` for ``kinds``, or None."""
        rows = self.ch.query(
            "SELECT count() AS n, min(minute) AS m FROM mention_minute "
            "WHERE minute >= {since:DateTime} AND has({kinds:Array(String)}, kind)",
            {"since": whole_seconds(since), "kinds": list(kinds)},
        )
        return rows[0]["m"] if rows and int(rows[0]["n"]) else None

    def bucket_counts(self, start: datetime, end: datetime, bucket_s: int,
                      kinds: Sequence[str] = ("brand",)) -> list[BucketCount]:
        """Deduplicated totals and negatives per subject and ``bucket_s`` bucket (aligned to the
        epoch) for buckets in ``[start, end)``, in event-time order. Minutes are merged, so a
        post counts once per bucket however many minute rows it touched."""
        if bucket_s <= 0 or bucket_s % 60:
            raise ValueError(f"bucket_s must be a positive multiple of 60 (the stored minutes), got {bucket_s}")
        rows = self.ch.query(
            """
            SELECT kind, subject, toDateTime(intDiv(toUInt32(minute), {b:UInt32}) * {b:UInt32}, 'UTC') AS bucket,
                   uniqExactMerge(posts) AS total,
                   uniqExactMergeIf(posts, sentiment = 'negative') AS negative
            FROM mention_minute
            WHERE minute >= {start:DateTime} AND minute < {end:DateTime} AND has({kinds:Array(String)}, kind)
            GROUP BY kind, subject, bucket
            ORDER BY bucket, kind, subject
            """,
            {"b": int(bucket_s), "start": whole_seconds(start), "end": whole_seconds(end), "kinds": list(kinds)},
        )
        return [BucketCount(r["kind"], r["subject"], r["bucket"], int(r["total"]), int(r["negative"])) for r in rows]

    # -- detector state ---------------------------------------------------------------------
    def save_detector_state(self, name: str, fed_until: datetime, state: dict[str, Any]) -> None:
        """Store a detector's JSON ``state`` and the event time it has judged everything before."""
        blob = base64.b64encode(zlib.compress(orjson.dumps(state), 6)).decode("ascii")
        self.ch.insert("detector_state", [{
            "name": name, "fed_until": whole_seconds(fed_until), "state": blob, "saved_at": utc_now(whole_seconds=True),
            "version": time.time_ns(),
        }])

    def load_detector_state(self, name: str) -> tuple[datetime, dict[str, Any]] | None:
        """The newest saved ``(fed_until, state)`` of ``name``, or None."""
        rows = self.ch.query(
            "SELECT fed_until, state FROM detector_state WHERE name = {name:String} ORDER BY version DESC LIMIT 1",
            {"name": name},
        )
        if not rows:
            return None
        return rows[0]["fed_until"], orjson.loads(zlib.decompress(base64.b64decode(rows[0]["state"])))

    def detector_position(self, name: str) -> datetime | None:
        """The ``fed_until`` of the newest saved state of ``name`` (cheap: no state is read)."""
        rows = self.ch.query(
            "SELECT fed_until FROM detector_state WHERE name = {name:String} ORDER BY version DESC LIMIT 1",
            {"name": name},
        )
        return rows[0]["fed_until"] if rows else None

    def stored_alert_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are already in the ``alerts`` table."""
        if not ids:
            return set()
        rows = self.ch.query("SELECT DISTINCT id FROM alerts WHERE has({ids:Array(String)}, id)", {"ids": list(ids)})
        return {r["id"] for r in rows}

    def spike_evidence(self, brand: str, start: datetime, end: datetime, limit: int = 5,
                       baseline: timedelta = timedelta(days=7), sample: int = 2000) -> dict[str, Any]:
        """Evidence of a brand's negative spike in ``[start, end)``: the top negative posts by
        reach (id, @handle, text, url), their authors, the negative share, conversations, and
        the texts of up to ``sample`` negative posts in the window and of the brand's posts in
        the ``baseline`` before it (for the terms that set the spike apart)."""
        params = {"brand": brand, "start": whole_seconds(start), "end": whole_seconds(end), "limit": limit,
                  "base": whole_seconds(start - baseline), "sample": sample}
        negative = "brand_sentiments[indexOf(brands, {brand:String})] = 'negative'"
        in_window = "has(brands, {brand:String}) AND created_at >= {start:DateTime} AND created_at < {end:DateTime}"
        posts = self.ch.query(
            f"""
            SELECT id, author_handle, author_followers, text, url, likes + reposts + replies + quotes AS engagement
            FROM posts FINAL
            WHERE {in_window} AND {negative}
            ORDER BY author_followers + 10 * engagement DESC, created_at DESC, id
            LIMIT {{limit:UInt32}}
            """,
            params,
        )
        share = self.ch.query(
            f"SELECT count() AS n, countIf({negative}) AS neg FROM posts FINAL WHERE {in_window}", params)
        convs = self.ch.query(
            f"""
            SELECT conversation_id, count() AS n FROM posts FINAL
            WHERE {in_window} AND conversation_id != '' AND {negative}
            GROUP BY conversation_id ORDER BY n DESC, conversation_id LIMIT 3
            """,
            params,
        )
        spike_texts = self.ch.query(
            f"SELECT text FROM posts FINAL WHERE {in_window} AND {negative} ORDER BY id LIMIT {{sample:UInt32}}",
            params)
        base_texts = self.ch.query(
            """
            SELECT text FROM posts FINAL
            WHERE has(brands, {brand:String}) AND created_at >= {base:DateTime} AND created_at < {start:DateTime}
            ORDER BY cityHash64(id) LIMIT {sample:UInt32}
            """,
            params,
        )
        n = int(share[0]["n"]) if share else 0
        neg = int(share[0]["neg"]) if share else 0
        return {
            "post_ids": [r["id"] for r in posts],
            "samples": [{"id": r["id"], "author": r["author_handle"], "text": r["text"][:280], "url": r["url"]}
                        for r in posts],
            "authors": list(dict.fromkeys(r["author_handle"] for r in posts if r["author_handle"])),
            "negative_share": (neg / n) if n else None,
            "conversations": [r["conversation_id"] for r in convs],
            "spike_texts": [r["text"] for r in spike_texts],
            "baseline_texts": [r["text"] for r in base_texts],
        }


RepositoryProvider = Callable[[], Awaitable[Repository]]
"""The process's one Repository, built on first use (waits while ClickHouse is unreachable)."""
