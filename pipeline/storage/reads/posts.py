"""Posts: search, a brand's negative posts, texts, sources and totals (``posts``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.storage.backend import ClickHouse, Row
from pipeline.storage.posts_table import columns
from pipeline.storage.reads.keyset import Keyset

BRAND_SENTIMENT = "brand_sentiments[indexOf(brands, {brand:String})]"
"""The sentiment of a post toward the brand bound to ``{brand:String}``."""
_SEARCH_COLUMNS = columns(
    "id", "source", "url", "created_at", "text", "language", "author_id", "author_handle", "author_followers",
    "brands", "brand_sentiments", "sentiment_label", "sentiment_score", "topics", "conversation_id",
    "likes", "reposts", "replies", "quotes", "_version")
_NEGATIVE_COLUMNS = columns(
    "id", "source", "url", "created_at", "text", "author_id", "author_handle", "author_followers",
    "likes", "reposts", "replies", "quotes", "sentiment_score")


@dataclass
class PostFilter:
    """Posts to search; ``None`` means any, ``q`` is a case-insensitive substring of the text."""

    brand: str | None = None
    topic: str | None = None
    sentiment: str | None = None
    language: str | None = None
    author: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    q: str | None = None


class PostReads:
    """Reads of stored posts for the API, the demo and the benchmarks."""

    def __init__(self, ch: ClickHouse) -> None:
        self._ch = ch

    def search(self, f: PostFilter, limit: int, after: Keyset | None) -> tuple[list[Row], Keyset | None]:
        """Posts newest first matching every given filter, one row per id (newest version); the
        next page's position or None.

        A post re-enriched with different tags may match on its previous version until ClickHouse
        merges the parts.
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
            where.append(f"{BRAND_SENTIMENT} = {{sentiment:String}}" if f.brand is not None
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
        if after is not None:
            where.append("(created_at < {ct:DateTime} OR (created_at = {ct:DateTime} AND id < {cid:String}))")
            params.update(ct=after.created_at, cid=after.id)
        # No FINAL: ordering by the sorting key's prefix lets ClickHouse read the newest parts first and
        # stop early (FINAL over a wide range takes seconds). Unmerged redeliveries of a post sit next to
        # each other in this order; the newest version (_version) is kept, so take some spare rows.
        fetch = 2 * limit + 1
        params["limit"] = fetch
        rows = self._ch.query(
            f"""
            SELECT {_SEARCH_COLUMNS}
            FROM posts
            WHERE {' AND '.join(where)}
            ORDER BY toStartOfHour(created_at) DESC, created_at DESC, id DESC, _version DESC
            LIMIT {{limit:UInt32}}
            """,
            params,
        )
        unique: list[Row] = []
        for r in rows:
            if not unique or unique[-1]["id"] != r["id"]:
                unique.append(r)
        page = unique[:limit]
        more = len(rows) == fetch or len(unique) > limit
        return page, Keyset(page[-1]["created_at"], page[-1]["id"]) if more and page else None

    def negative(self, brand: str, start: datetime, end: datetime, limit: int = 10) -> list[Row]:
        """Posts negative toward ``brand`` in ``[start, end)``, widest reach first (author
        followers plus engagement: who saw it), one version per post."""
        return self._ch.query(
            f"""
            SELECT {_NEGATIVE_COLUMNS}
            FROM (
                SELECT {_NEGATIVE_COLUMNS}
                FROM posts
                WHERE has(brands, {{brand:String}}) AND {BRAND_SENTIMENT} = 'negative'
                  AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}
                ORDER BY _version DESC
                LIMIT 1 BY id
            )
            ORDER BY author_followers + likes + reposts + replies + quotes DESC, created_at DESC, id
            LIMIT {{limit:UInt32}}
            """,
            {"brand": brand, "start": start, "end": end, "limit": limit},
        )

    def texts(self, brand: str, start: datetime, end: datetime, negative_only: bool, limit: int) -> list[str]:
        """Texts of up to ``limit`` of ``brand``'s newest posts in ``[start, end)`` (only those
        negative toward it if ``negative_only``), one per post."""
        cond = f" AND {BRAND_SENTIMENT} = 'negative'" if negative_only else ""
        rows = self._ch.query(
            f"""
            SELECT any(text) AS text FROM posts
            WHERE has(brands, {{brand:String}}) AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}{cond}
            GROUP BY id ORDER BY max(created_at) DESC LIMIT {{limit:UInt32}}
            """,
            {"brand": brand, "start": start, "end": end, "limit": limit},
        )
        return [r["text"] for r in rows]

    def sources(self, brand: str, start: datetime, end: datetime) -> list[Row]:
        """``mentions`` and ``negative`` mentions of ``brand`` per ``source``, largest first (20 at most)."""
        return self._ch.query(
            f"""
            SELECT source, uniqExact(id) AS mentions, uniqExactIf(id, {BRAND_SENTIMENT} = 'negative') AS negative
            FROM posts
            WHERE has(brands, {{brand:String}}) AND created_at >= {{start:DateTime}} AND created_at < {{end:DateTime}}
            GROUP BY source ORDER BY mentions DESC, source LIMIT 20
            """,
            {"brand": brand, "start": start, "end": end},
        )

    def brand_totals(self) -> list[Row]:
        """Every brand's ``posts``, ``negative`` and ``positive`` (toward it) over all stored posts,
        busiest first."""
        return self._ch.query(
            """
            SELECT brand, count() AS posts,
                   countIf(s = 'negative') AS negative, countIf(s = 'positive') AS positive
            FROM (SELECT id, brands, brand_sentiments FROM posts FINAL)
            ARRAY JOIN brands AS brand, brand_sentiments AS s
            GROUP BY brand ORDER BY posts DESC
            """
        )

    def max_version(self) -> int:
        """The newest ``_version`` (insert clock, microseconds) stored, 0 when empty."""
        rows = self._ch.query("SELECT max(_version) AS v FROM posts")
        return int(rows[0]["v"] or 0) if rows else 0

    def ids_since(self, version: int) -> list[str]:
        """Ids of the rows written after ``version`` (redeliveries repeat)."""
        return [r["id"] for r in self._ch.query("SELECT id FROM posts WHERE _version > {v:UInt64}", {"v": version})]
