"""What rostered voices posted: the reads behind owner suggestions, the voice profile, the
negative-post watch and the per-owner digest (``posts`` filtered by ``source:author_id``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pipeline.storage.backend import ClickHouse

_OF = ("author_id IN (SELECT arrayJoin({ids:Array(String)})) "
       "AND has({acc:Array(String)}, concat(source, ':', author_id))")
"""Posts of the accounts ``acc`` (``source:author_id``). The plain ``author_id`` test comes first:
a set lookup (``has`` on a constant array is a linear scan per row on older servers, slow for an
owner with hundreds of voices), and it lets the author bloom-filter index (migration 0009) skip
granules."""


def _of(accounts: Sequence[str]) -> dict[str, Any]:
    return {"acc": list(accounts), "ids": sorted({a.partition(":")[2] for a in accounts})}


class VoicePosts:
    """Posts of rostered voices (read-only)."""

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def find_authors(self, handle: str, limit: int = 20) -> list[dict[str, Any]]:
        """Accounts whose handle is ``handle`` (any source, ``@`` and case ignored), busiest first."""
        return self.ch.query(
            """
            SELECT source, author_id, any(author_handle) AS handle, any(author_name) AS name,
                   max(author_followers) AS followers, count() AS posts, max(created_at) AS last_post
            FROM posts WHERE lower(author_handle) = lower({h:String})
            GROUP BY source, author_id ORDER BY posts DESC, source, author_id LIMIT {n:UInt32}
            """, {"h": handle.strip().lstrip("@"), "n": limit})

    def author(self, source: str, author_id: str) -> dict[str, Any] | None:
        """Handle and name of one account, from its newest stored post."""
        rows = self.ch.query(
            "SELECT author_handle AS handle, author_name AS name FROM posts "
            "WHERE source = {s:String} AND author_id = {a:String} ORDER BY created_at DESC LIMIT 1",
            {"s": source, "a": author_id})
        return rows[0] if rows else None

    def activity(self, accounts: Sequence[str], days: int = 30) -> tuple[dict[str, int], dict[str, int]]:
        """(posts per topic, posts per brand) of ``accounts`` in the ``days`` before their newest post
        (relative to the voice, so a replay of old posts reads the same as live ones)."""
        since = self.ch.query(f"SELECT max(created_at) AS m, count() AS n FROM posts WHERE {_OF}", _of(accounts))
        if not since or not int(since[0]["n"]):
            return {}, {}
        rows = self.ch.query(
            f"""
            SELECT 't' AS k, arrayJoin(topics) AS subject, uniqExact(id) AS n FROM posts
            WHERE {_OF} AND created_at >= {{since:DateTime}} GROUP BY subject
            UNION ALL
            SELECT 'b' AS k, arrayJoin(brands) AS subject, uniqExact(id) AS n FROM posts
            WHERE {_OF} AND created_at >= {{since:DateTime}} GROUP BY subject
            """, {**_of(accounts), "since": since[0]["m"] - timedelta(days=days)})
        topics = {r["subject"]: int(r["n"]) for r in rows if r["k"] == "t"}
        brands = {r["subject"]: int(r["n"]) for r in rows if r["k"] == "b"}
        return topics, brands

    def negative_since(self, accounts: Sequence[str], version: int, limit: int = 500) -> list[dict[str, Any]]:
        """Posts by ``accounts`` stored after ``version`` that are negative about a brand."""
        return self.ch.query(
            f"""
            SELECT id, source, author_id, author_handle, text, url, created_at, brands, brand_sentiments, _version
            FROM posts WHERE _version > {{v:UInt64}} AND {_OF} AND has(brand_sentiments, 'negative')
            ORDER BY _version LIMIT {{n:UInt32}}
            """, {**_of(accounts), "v": version, "n": limit})

    def max_version(self) -> int:
        rows = self.ch.query("SELECT max(_version) AS v FROM posts")
        return int(rows[0]["v"] or 0) if rows else 0

    def recent(self, accounts: Sequence[str], limit: int = 20, stored_since: datetime | None = None,
               relevant_only: bool = True) -> list[dict[str, Any]]:
        """Newest posts of ``accounts`` (about a brand or topic of ours unless ``relevant_only`` is
        False; stored at or after ``stored_since`` if given), with the sentiment toward each brand.
        A redelivered post not merged yet is dropped here (cheaper than ``LIMIT 1 BY id``)."""
        cond = f"{_OF}" + (" AND (notEmpty(brands) OR notEmpty(topics))" if relevant_only else "")
        params: dict[str, Any] = {**_of(accounts), "n": 2 * limit}
        if stored_since is not None:
            cond += " AND enriched_at >= {since:DateTime}"
            params["since"] = stored_since
        rows = self.ch.query(
            f"""
            SELECT id, source, author_id, author_handle, created_at, enriched_at, text, url, brands, brand_sentiments,
                   topics, sentiment_label, conversation_id, likes + reposts + replies + quotes AS engagement
            FROM posts WHERE {cond} ORDER BY created_at DESC, id LIMIT {{n:UInt32}}
            """, params)
        return list({r["id"]: r for r in reversed(rows)}.values())[::-1][:limit]

    def facts(self, accounts: Sequence[str], limit: int = 20_000) -> list[dict[str, Any]]:
        """The light columns of the newest ``limit`` posts of ``accounts`` (one scan for the profile:
        topics, brands, conversations and attention are counted from these)."""
        rows = self.ch.query(
            f"""
            SELECT id, created_at, brands, topics, conversation_id, likes + reposts + replies + quotes AS engagement
            FROM posts WHERE {_OF} ORDER BY created_at DESC LIMIT {{n:UInt32}}
            """, {**_of(accounts), "n": limit})
        return list({r["id"]: r for r in reversed(rows)}.values())[::-1]

    def conversation_labels(self, ids: Sequence[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = self.ch.query("SELECT conversation_id, any(label) AS label FROM conversations "
                             "WHERE has({ids:Array(String)}, conversation_id) GROUP BY conversation_id", {"ids": list(ids)})
        return {r["conversation_id"]: r["label"] for r in rows}

    def amplifiers(self, author_ids: Sequence[str], handles: Sequence[str], limit: int = 10) -> list[dict[str, Any]]:
        """Others who repost, reply to or quote the voice, most often first."""
        return self.ch.query(
            """
            SELECT author_handle AS handle, source, uniqExact(id) AS times,
                   uniqExactIf(id, repost_of_author != '') AS reposts,
                   uniqExactIf(id, reply_to_author != '') AS replies,
                   uniqExactIf(id, quote_of_author != '') AS quotes
            FROM posts
            WHERE (has({ids:Array(String)}, repost_of_author) OR has({ids:Array(String)}, reply_to_author)
                   OR has({ids:Array(String)}, quote_of_author)
                   OR has({hs:Array(String)}, lower(repost_of_author)) OR has({hs:Array(String)}, lower(reply_to_author))
                   OR has({hs:Array(String)}, lower(quote_of_author)))
              AND NOT has({ids:Array(String)}, author_id)
            GROUP BY author_handle, source ORDER BY times DESC, handle LIMIT {n:UInt32}
            """, {"ids": list(author_ids), "hs": [h.lstrip("@").lower() for h in handles], "n": limit})

    def rising(self, author_ids: Sequence[str], since: datetime) -> list[dict[str, Any]]:
        """Which of ``author_ids`` the emerging-voices ranking listed since ``since`` (best rank)."""
        return self.ch.query(
            """
            SELECT author_id, any(handle) AS handle, min(rank) AS best_rank, max(score) AS score,
                   groupUniqArray(subject_id) AS subjects
            FROM emerging_voices
            WHERE has({ids:Array(String)}, author_id) AND snapshot_at >= {since:DateTime}
            GROUP BY author_id ORDER BY best_rank, author_id
            """, {"ids": list(author_ids), "since": since})
