"""The API's read models: JSON shapes of the Repository's reads (no SQL, no web framework).

The SQL lives in :mod:`pipeline.storage.reads`; this module turns its rows into the API's
documented answers (ISO times, rounded shares, nested objects) and validated cursors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from pipeline.alerts.render import dashboard_path
from pipeline.api.params import Cursor, TimeRange
from pipeline.core.schema import SentimentLabel
from pipeline.storage.backend import Row
from pipeline.storage.reads.alerts import AlertFilter
from pipeline.storage.reads.keyset import Keyset
from pipeline.storage.reads.posts import PostFilter
from pipeline.storage.repository import Repository

SENTIMENTS: tuple[str, ...] = get_args(SentimentLabel)


@dataclass(frozen=True)
class Brand:
    """A configured brand: id, display name, competitors (ids) and owner."""

    id: str
    name: str
    competitors: tuple[str, ...] = ()
    owner: str = ""


def iso(dt: datetime) -> str:
    """ISO 8601 UTC with a Z suffix."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cursor(k: Keyset | None) -> Cursor | None:
    return None if k is None else Cursor(k.created_at, k.id)


def _keyset(c: Cursor | None) -> Keyset | None:
    return None if c is None else Keyset(c.created_at, c.id)


# -- brands ----------------------------------------------------------------------------------
def brand_overview(repo: Repository, brand: Brand, rng: TimeRange, step: int) -> dict[str, Any]:
    """Volume and sentiment per bucket, totals, and share of voice against configured competitors."""
    ids = [brand.id, *[c for c in brand.competitors if c != brand.id]]
    rows = repo.mentions.brand_counts(ids, rng.start, rng.end, step)
    counts: dict[int, dict[str, int]] = {}
    per: dict[str, dict[str, int]] = {i: {} for i in ids}
    for r in rows:
        n = int(r["n"])
        bucket = per.setdefault(r["subject"], {})
        bucket[r["sentiment"]] = bucket.get(r["sentiment"], 0) + n
        if r["subject"] == brand.id:
            counts.setdefault(int(r["t"]), {})[r["sentiment"]] = n
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
def trending(repo: Repository, end: datetime, window_s: int, brand: str | None = None,
             topic: str | None = None, limit: int = 20, samples: int = 3) -> dict[str, Any]:
    """Conversations ranked by velocity (posts/hour in the recent half of the window), then acceleration.

    ``acceleration`` is the change of posts/hour from the earlier to the recent half.
    """
    start = end - timedelta(seconds=window_s)
    mid = end - timedelta(seconds=window_s // 2)
    half_h = window_s / 2 / 3600
    rows = repo.conversations.velocity(start, mid, end, brand, topic, limit)
    ids = [r["conversation_id"] for r in rows]
    meta = repo.conversations.labels(ids)
    examples: dict[str, list[dict[str, Any]]] = {}
    for p in repo.conversations.examples(ids, start, end, brand, topic, samples) if ids else []:
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
def voices(repo: Repository, subject: str, limit: int = 20) -> dict[str, Any]:
    """The latest emerging-voices snapshot of a subject, best rank first."""
    rows = repo.voices.latest(subject, limit)
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


def list_alerts(repo: Repository, f: AlertFilter, limit: int,
                cursor: Cursor | None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Alerts most severe first, newest first within a severity, with their acknowledgement."""
    rows, nxt = repo.alerts.page(f, limit, _keyset(cursor))
    return [_alert_out(r) for r in rows], _cursor(nxt)


def get_alert(repo: Repository, alert_id: str) -> dict[str, Any] | None:
    """One alert with its acknowledgement state, or None."""
    row = repo.alerts.one(alert_id)
    return None if row is None else _alert_out(row)


# -- posts -----------------------------------------------------------------------------------
def search_posts(repo: Repository, f: PostFilter, limit: int,
                 cursor: Cursor | None) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Posts newest first matching every given filter, one per id (see :meth:`PostReads.search`)."""
    page, nxt = repo.posts.search(f, limit, _keyset(cursor))
    return [post_out(r) for r in page], _cursor(nxt)


def post_out(r: Row) -> dict[str, Any]:
    """A searched post as the API shows it."""
    return {
        "id": r["id"], "source": r["source"], "url": r["url"] or None, "created_at": iso(r["created_at"]),
        "text": r["text"], "language": r["language"],
        "author": {"id": r["author_id"], "handle": r["author_handle"], "followers": int(r["author_followers"])},
        "brands": [{"id": b, "sentiment": s} for b, s in zip(r["brands"], r["brand_sentiments"], strict=False)],
        "sentiment": {"label": r["sentiment_label"], "score": round(float(r["sentiment_score"]), 4)},
        "topics": list(r["topics"]), "conversation_id": r["conversation_id"] or None,
        "engagement": {k: int(r[k]) for k in ("likes", "reposts", "replies", "quotes")},
    }
