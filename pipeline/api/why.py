"""Why a brand's talk looks the way it does in a time range, and how every brand is doing.

Read models for the dashboard's all-brands health strip and the brand view's *why* panel: top
negative posts, terms that set the range apart from its baseline (the same statistics as alert
evidence, :func:`pipeline.detect.evidence.distinctive_terms`), sources, conversations with their
sentiment toward the brand, and emerging voices. Plain SQL over the same tables as
:mod:`pipeline.api.queries` (ClickHouse 18.16-compatible), no web framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pipeline.api.params import TimeRange
from pipeline.api.queries import Brand, brand_mentions, iso, voices
from pipeline.detect.evidence import distinctive_terms
from pipeline.storage.backend import ClickHouse

BASELINE = timedelta(days=7)
"""Terms are compared with the brand's posts of the week before the range: a week holds the
weekday/weekend cycle of usual talk."""
TEXTS_PER_SIDE = 1000
"""Posts read per side for the term statistics (the newest): enough for z-scores, bounded cost."""
_BRAND_SENTIMENT = "brand_sentiments[indexOf(brands, {brand:String})]"


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def brands_health(ch: ClickHouse, brands: dict[str, Brand], rng: TimeRange) -> list[dict[str, Any]]:
    """Every brand's mentions and negative share in ``rng`` and in the period of equal length
    before it, most trouble first: the largest rise in negative mentions, then the highest
    negative share (more people complaining than before is what a comms lead must see first)."""
    if not brands:
        return []
    span = rng.end - rng.start
    now = brand_mentions(ch, list(brands), rng)
    before = brand_mentions(ch, list(brands), TimeRange(rng.start - span, rng.start))
    items: list[dict[str, Any]] = []
    for b in brands.values():
        cur, prev = now.get(b.id, {}), before.get(b.id, {})
        mentions, negative = sum(cur.values()), cur.get("negative", 0)
        p_mentions, p_negative = sum(prev.values()), prev.get("negative", 0)
        share, p_share = _share(negative, mentions), _share(p_negative, p_mentions)
        items.append({
            "id": b.id, "name": b.name, "competitors": list(b.competitors), "owner": b.owner,
            "mentions": mentions, "negative": negative, "negative_share": share,
            "previous": {"mentions": p_mentions, "negative": p_negative, "negative_share": p_share},
            "change": {"mentions": _share(mentions - p_mentions, p_mentions),
                       "negative": negative - p_negative,
                       "negative_share": None if share is None or p_share is None else round(share - p_share, 4)},
            "mentions_24h": mentions, "negative_24h": negative,  # the names of the first API version
        })
    items.sort(key=lambda x: (-int(x["change"]["negative"]), -float(x["negative_share"] or 0.0), str(x["id"])))
    return items


def top_negative_posts(ch: ClickHouse, brand: str, rng: TimeRange, limit: int = 10) -> list[dict[str, Any]]:
    """Posts negative toward ``brand`` in ``rng``, widest reach first (author followers plus
    engagement: who saw it), one version per post."""
    rows = ch.query(
        f"""
        SELECT id, source, url, created_at, text, author_id, author_handle, author_followers,
               likes, reposts, replies, quotes, sentiment_score
        FROM (
            SELECT id, source, url, created_at, text, author_id, author_handle, author_followers,
                   likes, reposts, replies, quotes, sentiment_score
            FROM posts
            WHERE has(brands, {{brand:String}}) AND {_BRAND_SENTIMENT} = 'negative'
              AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}
            ORDER BY _version DESC
            LIMIT 1 BY id
        )
        ORDER BY author_followers + likes + reposts + replies + quotes DESC, created_at DESC, id
        LIMIT {{limit:UInt32}}
        """,
        {"brand": brand, "start": rng.start, "end": rng.end, "limit": limit},
    )
    return [{
        "id": r["id"], "source": r["source"], "url": r["url"] or None, "created_at": iso(r["created_at"]),
        "text": r["text"][:1000],
        "author": {"id": r["author_id"], "handle": r["author_handle"], "followers": int(r["author_followers"])},
        "engagement": {k: int(r[k]) for k in ("likes", "reposts", "replies", "quotes")},
        "reach": int(r["author_followers"]) + sum(int(r[k]) for k in ("likes", "reposts", "replies", "quotes")),
        "sentiment": "negative",
    } for r in rows]


def _texts(ch: ClickHouse, brand: str, rng: TimeRange, negative_only: bool) -> list[str]:
    cond = f" AND {_BRAND_SENTIMENT} = 'negative'" if negative_only else ""
    rows = ch.query(
        f"""
        SELECT any(text) AS text FROM posts
        WHERE has(brands, {{brand:String}}) AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}{cond}
        GROUP BY id ORDER BY max(created_at) DESC LIMIT {{limit:UInt32}}
        """,
        {"brand": brand, "start": rng.start, "end": rng.end, "limit": TEXTS_PER_SIDE},
    )
    return [r["text"] for r in rows]


def terms(ch: ClickHouse, brand: Brand, rng: TimeRange, k: int = 10) -> list[str]:
    """Terms of the range's negative posts that set them apart from the brand's usual talk."""
    spike = _texts(ch, brand.id, rng, negative_only=True)
    baseline = _texts(ch, brand.id, TimeRange(rng.start - BASELINE, rng.start), negative_only=False)
    return distinctive_terms(spike, baseline, k=k, exclude=[brand.id, *brand.name.split()])


def sources(ch: ClickHouse, brand: str, rng: TimeRange) -> list[dict[str, Any]]:
    """Mentions and negative mentions of ``brand`` per source (network or feed), largest first."""
    rows = ch.query(
        f"""
        SELECT source, uniqExact(id) AS mentions, uniqExactIf(id, {_BRAND_SENTIMENT} = 'negative') AS negative
        FROM posts
        WHERE has(brands, {{brand:String}}) AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}
        GROUP BY source ORDER BY mentions DESC, source LIMIT 20
        """,
        {"brand": brand, "start": rng.start, "end": rng.end},
    )
    return [{"source": r["source"], "mentions": int(r["mentions"]), "negative": int(r["negative"]),
             "negative_share": _share(int(r["negative"]), int(r["mentions"]))} for r in rows]


def conversations(ch: ClickHouse, brand: str, rng: TimeRange, limit: int = 8) -> list[dict[str, Any]]:
    """Conversations of this brand's posts in ``rng`` (sizes counted on this brand only), most
    negative posts first, with their sentiment toward the brand."""
    rows = ch.query(
        f"""
        SELECT conversation_id, uniqExact(id) AS posts,
               uniqExactIf(id, {_BRAND_SENTIMENT} = 'negative') AS negative,
               uniqExactIf(id, {_BRAND_SENTIMENT} = 'positive') AS positive
        FROM posts
        WHERE conversation_id != '' AND has(brands, {{brand:String}})
          AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}
        GROUP BY conversation_id
        ORDER BY negative DESC, posts DESC, conversation_id
        LIMIT {{limit:UInt32}}
        """,
        {"brand": brand, "start": rng.start, "end": rng.end, "limit": limit},
    )
    ids = [r["conversation_id"] for r in rows]
    meta = {m["conversation_id"]: m for m in ch.query(
        "SELECT conversation_id, label, key_terms FROM conversations FINAL WHERE has({ids:Array(String)}, conversation_id)",
        {"ids": ids})} if ids else {}
    out = []
    for r in rows:
        info = meta.get(r["conversation_id"], {})
        key_terms: Sequence[str] = list(info.get("key_terms") or [])
        posts, negative, positive = int(r["posts"]), int(r["negative"]), int(r["positive"])
        out.append({"conversation_id": r["conversation_id"],
                    "label": info.get("label") or ", ".join(key_terms[:3]) or r["conversation_id"],
                    "key_terms": list(key_terms), "posts": posts, "negative": negative, "positive": positive,
                    "negative_share": _share(negative, posts),
                    "net_sentiment": round((positive - negative) / posts, 4) if posts else None})
    return out


def brand_why(ch: ClickHouse, brand: Brand, rng: TimeRange, limit: int = 10) -> dict[str, Any]:
    """Everything the brand view shows beside its chart, for one range."""
    return {
        "brand": {"id": brand.id, "name": brand.name, "owner": brand.owner},
        "from": iso(rng.start), "to": iso(rng.end),
        "top_negative_posts": top_negative_posts(ch, brand.id, rng, limit),
        "terms": terms(ch, brand, rng),
        "sources": sources(ch, brand.id, rng),
        "conversations": conversations(ch, brand.id, rng),
        "voices": voices(ch, brand.id, 5)["items"],
    }
