"""Conversations: velocity from ``conversation_minute``, labels from ``conversations``, example
posts and per-brand sentiment from ``posts``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipeline.storage.backend import ClickHouse, Row
from pipeline.storage.reads.posts import BRAND_SENTIMENT


class ConversationReads:
    """Which conversations move fastest, what they are called and what was said in them."""

    def __init__(self, ch: ClickHouse) -> None:
        self._ch = ch

    def velocity(self, start: datetime, mid: datetime, end: datetime, brand: str | None = None,
                 topic: str | None = None, limit: int = 20) -> list[Row]:
        """Conversations with posts in ``[mid, end)``: ``recent`` (posts there) and ``previous``
        (posts in ``[start, mid)``), most recent posts first, then the largest rise."""
        params: dict[str, Any] = {"start": start, "mid": mid, "end": end, "limit": limit}
        if brand is not None and topic is not None:  # no brand x topic aggregate: count posts directly
            params.update(brand=brand, topic=topic)
            return self._ch.query(
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
        kind, subject = ("brand", brand) if brand is not None else ("topic", topic) if topic else ("all", "*")
        params.update(kind=kind, subject=subject)
        return self._ch.query(
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

    def labels(self, ids: Sequence[str]) -> dict[str, Row]:
        """Label, key terms, size, first/last seen and merge target of each of ``ids`` that is known."""
        if not ids:
            return {}
        return {m["conversation_id"]: m for m in self._ch.query(
            """
            SELECT conversation_id, label, key_terms, size, first_seen, last_seen, merged_into
            FROM conversations FINAL WHERE has({ids:Array(String)}, conversation_id)
            """,
            {"ids": list(ids)},
        )}

    def examples(self, ids: Sequence[str], start: datetime, end: datetime, brand: str | None = None,
                 topic: str | None = None, per_conversation: int = 3) -> list[Row]:
        """Up to ``per_conversation`` posts of each of ``ids`` in ``[start, end)`` (about ``brand``
        and ``topic`` if given), most engagement first, one version per post."""
        where = ["has({ids:Array(String)}, conversation_id)", "created_at >= {start:DateTime}",
                 "created_at < {end:DateTime}"]
        params: dict[str, Any] = {"ids": list(ids), "start": start, "end": end, "samples": per_conversation}
        if brand is not None:
            where.append("has(brands, {brand:String})")
            params["brand"] = brand
        if topic is not None:
            where.append("has(topics, {topic:String})")
            params["topic"] = topic
        return self._ch.query(
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
            params,
        )

    def of_brand(self, brand: str, start: datetime, end: datetime, limit: int = 8) -> list[Row]:
        """Conversations of ``brand``'s posts in ``[start, end)``: ``posts``, ``negative`` and
        ``positive`` (toward the brand; counted on this brand only), most negative first."""
        return self._ch.query(
            f"""
            SELECT conversation_id, uniqExact(id) AS posts,
                   uniqExactIf(id, {BRAND_SENTIMENT} = 'negative') AS negative,
                   uniqExactIf(id, {BRAND_SENTIMENT} = 'positive') AS positive
            FROM posts
            WHERE conversation_id != '' AND has(brands, {{brand:String}})
              AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}
            GROUP BY conversation_id
            ORDER BY negative DESC, posts DESC, conversation_id
            LIMIT {{limit:UInt32}}
            """,
            {"brand": brand, "start": start, "end": end, "limit": limit},
        )
