"""The ``posts`` table in Python: its columns (the one list), the row builder and the reverse view.

:data:`POST_COLUMNS` is what migrations 0001 and 0010 (an ALTER) leave in ClickHouse;
``tests/storage`` checks it against the live table on both backends.  Migrations keep their
literal DDL: they are history and must replay as written.  Everything else that names a set of
``posts`` columns takes it from here (:func:`columns` checks the names).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pipeline.core.schema import BrandMention, EnrichedPost, RawPost
from pipeline.storage.backend import whole_seconds

POST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "String"),
    ("source", "String"),
    ("url", "String"),
    ("created_at", "DateTime('UTC')"),
    ("collected_at", "DateTime('UTC')"),
    ("enriched_at", "DateTime('UTC')"),
    ("text", "String"),
    ("lang", "String"),
    ("language", "String"),
    ("author_id", "String"),
    ("author_handle", "String"),
    ("author_name", "String"),
    ("author_followers", "UInt32"),
    ("author_following", "UInt32"),
    ("reply_to_author", "String"),
    ("reply_to_post", "String"),
    ("repost_of_author", "String"),
    ("quote_of_author", "String"),
    ("mentions", "Array(String)"),
    ("hashtags", "Array(String)"),
    ("links", "Array(String)"),
    ("likes", "UInt32"),
    ("reposts", "UInt32"),
    ("replies", "UInt32"),
    ("quotes", "UInt32"),
    ("brands", "Array(String)"),
    ("brand_rules", "Array(String)"),
    ("brand_sentiments", "Array(String)"),
    ("brand_scores", "Array(Float32)"),
    ("sentiment_label", "String"),
    ("sentiment_score", "Float32"),
    ("sentiment_confidence", "Float32"),
    ("topics", "Array(String)"),
    ("topic_scores", "Array(Float32)"),
    ("duplicate_of", "String"),
    ("conversation_id", "String"),
    ("_partition", "Int32"),
    ("_offset", "Int64"),
    ("_version", "UInt64"),
    ("repost_of_post", "String"),  # added by migration 10: new columns go last
)
"""Every ``posts`` column as (name, ClickHouse type), in table order."""
POST_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in POST_COLUMNS)

UINT32_MAX = 2**32 - 1
MONTHS_PER_INSERT = 50
"""Distinct ``toYYYYMM(created_at)`` partitions per posts INSERT: half of ClickHouse's default
``max_partitions_per_insert_block`` (100), so a batch with posts from any number of months is
written in several inserts instead of failing (redelivered rows are deduplicated by id)."""


def columns(*names: str) -> str:
    """A SELECT list of ``posts`` columns, checked against :data:`POST_COLUMNS`."""
    unknown = [n for n in names if n not in POST_COLUMN_NAMES]
    if unknown:
        raise ValueError(f"not a posts column: {', '.join(unknown)}")
    return ", ".join(names)


def post_row(e: EnrichedPost) -> dict[str, Any]:
    """Flatten an EnrichedPost into a ``posts`` row (one brand per array slot), in column order."""
    p = e.post
    by_brand: dict[str, BrandMention] = {}
    for b in e.brands:  # one slot per brand; first mention's rule and sentiment win
        by_brand.setdefault(b.brand_id, b)
    brands = list(by_brand.values())
    values: dict[str, Any] = {
        "id": p.id,
        "source": p.source,
        "url": p.url or "",
        "created_at": whole_seconds(p.created_at),
        "collected_at": whole_seconds(p.collected_at),
        "enriched_at": whole_seconds(e.enriched_at),
        "text": p.text,
        "lang": p.lang or "",
        "language": e.language,
        "author_id": p.author.id,
        "author_handle": p.author.handle,
        "author_name": p.author.display_name,
        "author_followers": min(p.author.followers, UINT32_MAX),
        "author_following": min(p.author.following, UINT32_MAX),
        "reply_to_author": p.reply_to_author or "",
        "reply_to_post": p.reply_to_post or "",
        "repost_of_author": p.repost_of_author or "",
        "quote_of_author": p.quote_of_author or "",
        "mentions": list(p.mentions),
        "hashtags": list(p.hashtags),
        "links": list(p.links),
        "likes": min(p.engagement.likes, UINT32_MAX),
        "reposts": min(p.engagement.reposts, UINT32_MAX),
        "replies": min(p.engagement.replies, UINT32_MAX),
        "quotes": min(p.engagement.quotes, UINT32_MAX),
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
        "repost_of_post": p.repost_of_post or "",
    }
    return {name: values[name] for name in POST_COLUMN_NAMES}  # a column added without a value fails here


def month_groups(posts: Sequence[EnrichedPost], months: int = MONTHS_PER_INSERT) -> list[list[EnrichedPost]]:
    """Split ``posts`` (order kept within a month) into groups spanning at most ``months``
    distinct calendar months of ``created_at`` (UTC), oldest first."""
    by_month: dict[tuple[int, int], list[EnrichedPost]] = {}
    for p in posts:
        by_month.setdefault((p.post.created_at.year, p.post.created_at.month), []).append(p)
    keys = sorted(by_month)
    return [[p for k in keys[i:i + months] for p in by_month[k]] for i in range(0, len(keys), months)]


VOICE_COLUMNS = columns(
    "id", "source", "created_at", "author_id", "author_handle", "author_followers", "reply_to_author",
    "reply_to_post", "repost_of_author", "repost_of_post", "quote_of_author", "mentions", "likes", "reposts",
    "replies", "quotes", "brands", "_version")
"""What the emerging-voices tracker reads of a stored post (:func:`voice_post_of`), its brands
(the subjects) and the insert clock: no text, so the live loop's reads stay small."""


def voice_post_of(row: dict[str, Any]) -> RawPost:
    """The RawPost the voice tracker sees of a ``posts`` row read with :data:`VOICE_COLUMNS`:
    every field it reads (ids, author, reply/repost/quote/mention links, engagement); the text
    and the other fields it never reads are left empty."""
    return RawPost.model_validate({
        "id": row["id"], "source": row["source"], "created_at": row["created_at"], "text": "",
        "author": {"id": row["author_id"], "handle": row["author_handle"], "followers": row["author_followers"]},
        "reply_to_author": row["reply_to_author"], "reply_to_post": row["reply_to_post"],
        "repost_of_author": row["repost_of_author"], "repost_of_post": row["repost_of_post"],
        "quote_of_author": row["quote_of_author"], "mentions": row["mentions"],
        "engagement": {"likes": row["likes"], "reposts": row["reposts"], "replies": row["replies"],
                       "quotes": row["quotes"]},
    })
