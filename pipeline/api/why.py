"""Why a brand's talk looks the way it does in a time range, and how every brand is doing.

Read models for the dashboard's all-brands health strip and the brand view's *why* panel: top
negative posts, terms that set the range apart from its baseline (the same statistics as alert
evidence, :func:`pipeline.detect.evidence.distinctive_terms`), sources, conversations with their
sentiment toward the brand, and emerging voices. Shapes of the Repository's reads
(:mod:`pipeline.storage.reads`), no SQL and no web framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pipeline.api.params import TimeRange
from pipeline.api.queries import Brand, iso, voices
from pipeline.detect.evidence import distinctive_terms
from pipeline.storage.repository import Repository

BASELINE = timedelta(days=7)
"""Terms are compared with the brand's posts of the week before the range: a week holds the
weekday/weekend cycle of usual talk."""
TEXTS_PER_SIDE = 1000
"""Posts read per side for the term statistics (the newest): enough for z-scores, bounded cost."""


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def brands_health(repo: Repository, brands: dict[str, Brand], rng: TimeRange) -> list[dict[str, Any]]:
    """Every brand's mentions and negative share in ``rng`` and in the period of equal length
    before it, most trouble first: the largest rise in negative mentions, then the highest
    negative share (more people complaining than before is what a comms lead must see first)."""
    if not brands:
        return []
    span = rng.end - rng.start
    now = repo.mentions.by_brand(list(brands), rng.start, rng.end)
    before = repo.mentions.by_brand(list(brands), rng.start - span, rng.start)
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


def top_negative_posts(repo: Repository, brand: str, rng: TimeRange, limit: int = 10) -> list[dict[str, Any]]:
    """Posts negative toward ``brand`` in ``rng``, widest reach first (author followers plus
    engagement: who saw it), one version per post."""
    rows = repo.posts.negative(brand, rng.start, rng.end, limit)
    return [{
        "id": r["id"], "source": r["source"], "url": r["url"] or None, "created_at": iso(r["created_at"]),
        "text": r["text"][:1000],
        "author": {"id": r["author_id"], "handle": r["author_handle"], "followers": int(r["author_followers"])},
        "engagement": {k: int(r[k]) for k in ("likes", "reposts", "replies", "quotes")},
        "reach": int(r["author_followers"]) + sum(int(r[k]) for k in ("likes", "reposts", "replies", "quotes")),
        "sentiment": "negative",
    } for r in rows]


def terms(repo: Repository, brand: Brand, rng: TimeRange, k: int = 10) -> list[str]:
    """Terms of the range's negative posts that set them apart from the brand's usual talk."""
    spike = repo.posts.texts(brand.id, rng.start, rng.end, negative_only=True, limit=TEXTS_PER_SIDE)
    baseline = repo.posts.texts(brand.id, rng.start - BASELINE, rng.start, negative_only=False,
                                limit=TEXTS_PER_SIDE)
    return distinctive_terms(spike, baseline, k=k, exclude=[brand.id, *brand.name.split()])


def sources(repo: Repository, brand: str, rng: TimeRange) -> list[dict[str, Any]]:
    """Mentions and negative mentions of ``brand`` per source (network or feed), largest first."""
    rows = repo.posts.sources(brand, rng.start, rng.end)
    return [{"source": r["source"], "mentions": int(r["mentions"]), "negative": int(r["negative"]),
             "negative_share": _share(int(r["negative"]), int(r["mentions"]))} for r in rows]


def conversations(repo: Repository, brand: str, rng: TimeRange, limit: int = 8) -> list[dict[str, Any]]:
    """Conversations of this brand's posts in ``rng`` (sizes counted on this brand only), most
    negative posts first, with their sentiment toward the brand."""
    rows = repo.conversations.of_brand(brand, rng.start, rng.end, limit)
    meta = repo.conversations.labels([r["conversation_id"] for r in rows])
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


def brand_why(repo: Repository, brand: Brand, rng: TimeRange, limit: int = 10) -> dict[str, Any]:
    """Everything the brand view shows beside its chart, for one range."""
    return {
        "brand": {"id": brand.id, "name": brand.name, "owner": brand.owner},
        "from": iso(rng.start), "to": iso(rng.end),
        "top_negative_posts": top_negative_posts(repo, brand.id, rng, limit),
        "terms": terms(repo, brand, rng),
        "sources": sources(repo, brand.id, rng),
        "conversations": conversations(repo, brand.id, rng),
        "voices": voices(repo, brand.id, 5)["items"],
    }
