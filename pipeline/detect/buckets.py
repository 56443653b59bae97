"""Per-bucket brand counts with exactly the worker's semantics, as a pure function.

The worker stores one ``posts`` row per post id (``pipeline.storage.posts_table.post_row``: one
slot per brand, the first mention of a brand gives its sentiment, falling back to the post's
sentiment) and the materialized view ``mention_minute`` counts, per brand and minute of
``created_at`` (seconds truncated), ``uniqExact(id)`` of all posts and of the posts whose
brand-targeted sentiment is ``negative``
(``pipeline.storage.migrations.m0002_mention_minute``). So here:

* a post id counts once per brand and bucket however often it is delivered; a redelivered
  copy that came out negative makes the post negative (``uniqExactMergeIf`` over all states);
* reposts and copy-pasted posts are distinct ids and count: amplification is part of the buzz;
* buckets of ``bucket_s`` seconds are unions of whole minutes (``bucket_s`` a multiple of 60).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pipeline.core.schema import EnrichedPost

__all__ = ["BrandBucket", "BucketCounter", "brand_sentiments"]


@dataclass(frozen=True)
class BrandBucket:
    """Deduplicated counts of one brand in one bucket."""

    brand: str
    start: datetime
    total: int
    negative: int


def brand_sentiments(post: EnrichedPost) -> dict[str, str]:
    """Brand id -> stored sentiment toward it (first mention wins, else the post's label)."""
    out: dict[str, str] = {}
    for m in post.brands:
        out.setdefault(m.brand_id, m.sentiment or post.sentiment.label)
    return out


class BucketCounter:
    """Accumulates enriched posts into per-brand buckets (ids kept per bucket for exact dedupe)."""

    def __init__(self, bucket_s: int = 60) -> None:
        if bucket_s <= 0 or bucket_s % 60 != 0:
            raise ValueError(f"bucket_s must be a positive multiple of 60 s, got {bucket_s}")
        self.bucket_s = bucket_s
        self._ids: dict[tuple[str, int], tuple[set[str], set[str]]] = {}

    def add(self, posts: Iterable[EnrichedPost]) -> None:
        """Count posts (any order; redeliveries are deduplicated by post id)."""
        for e in posts:
            minute = int(e.post.created_at.timestamp()) // 60 * 60
            idx = minute // self.bucket_s
            for brand, sentiment in brand_sentiments(e).items():
                total, negative = self._ids.setdefault((brand, idx), (set(), set()))
                total.add(e.post.id)
                if sentiment == "negative":
                    negative.add(e.post.id)

    def buckets(self) -> Iterator[BrandBucket]:
        """Every non-empty bucket, in event-time order (brands in id order within a bucket)."""
        for brand, idx in sorted(self._ids, key=lambda k: (k[1], k[0])):
            total, negative = self._ids[(brand, idx)]
            yield BrandBucket(brand, datetime.fromtimestamp(idx * self.bucket_s, UTC),
                              len(total), len(negative))
