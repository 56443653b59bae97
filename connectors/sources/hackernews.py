"""Hacker News stories and comments matching terms, from the Algolia HN Search API.

API: ``GET /api/v1/search_by_date?query=..&tags=(story,comment)&numericFilters=created_at_i>=T
&hitsPerPage=N&page=P`` (newest first). One stream per term; the cursor is ``created_at_i``
(inclusive, so hits sharing the boundary second are re-read and skipped as seen).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic_settings import SettingsConfigDict

from connectors.base import CheckError, Connector, ConnectorSpec, SourceError, Stream
from connectors.http import HttpClient
from connectors.sources._text import from_epoch, html_to_text


class HackerNewsSpec(ConnectorSpec):
    """Hacker News via Algolia (no credentials)."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_HN_", extra="forbid")

    base_url: str = "https://hn.algolia.com"
    terms: list[str] = ["hypermicro"]
    """Search terms; one stream each."""
    include_comments: bool = True
    lookback_hours: float = 24.0
    """How far back the first run reads."""
    hits_per_page: int = 100
    max_pages: int = 50
    """Pages per poll (Algolia serves at most 1000 hits per query)."""


class HackerNewsStream(Stream):
    primary_key = "objectID"
    cursor_field = "created_at_i"

    def __init__(self, connector: HackerNewsConnector, term: str) -> None:
        self.connector = connector
        self.term = term
        self.name = f"search-{term}"

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        spec = self.connector.spec
        since = state.get("cursor")
        if since is None:
            since = int(time.time() - spec.lookback_hours * 3600)
        tags = "(story,comment)" if spec.include_comments else "story"
        hits: dict[str, dict[str, Any]] = {}
        page, pages = 0, 1
        while page < pages and page < spec.max_pages:
            body = self.connector.http.get_json("/api/v1/search_by_date", params={
                "query": self.term, "tags": tags, "numericFilters": f"created_at_i>={int(since)}",
                "hitsPerPage": spec.hits_per_page, "page": page})
            if not isinstance(body, dict) or not isinstance(body.get("hits"), list):
                raise SourceError(f"unexpected Algolia response: {str(body)[:200]}")
            for hit in body["hits"]:
                if isinstance(hit, dict) and hit.get("objectID") is not None:
                    hits[str(hit["objectID"])] = hit
            pages = int(body.get("nbPages") or 0)
            page += 1
        yield from sorted(hits.values(), key=lambda h: (int(h.get("created_at_i") or 0), str(h["objectID"])))

    def cursor_of(self, record: Any) -> Any:
        value = record.get("created_at_i")
        return None if value is None else int(value)

    def to_post(self, hit: Any) -> dict[str, Any]:
        tags = hit.get("_tags") or []
        is_comment = "comment" in tags or hit.get("comment_text") is not None
        if is_comment:
            text = html_to_text(hit.get("comment_text"))
        else:
            text = "\n".join(x for x in (hit.get("title") or "", html_to_text(hit.get("story_text"))) if x)
        if not text:
            raise ValueError(f"hit {hit.get('objectID')} has no text")
        created = hit.get("created_at") or from_epoch(int(hit["created_at_i"])).isoformat()
        parent = hit.get("parent_id")
        url = hit.get("url")
        return {
            "id": str(hit["objectID"]),
            "source": "hackernews",
            "url": f"https://news.ycombinator.com/item?id={hit['objectID']}",
            "created_at": created,
            "text": text,
            "lang": None,
            "author": {"id": hit.get("author") or "unknown", "handle": hit.get("author") or ""},
            "reply_to_post": f"hackernews:{parent}" if is_comment and parent is not None else None,
            "links": [url] if url else [],
            "engagement": {"likes": max(0, int(hit.get("points") or 0)),
                           "replies": max(0, int(hit.get("num_comments") or 0))},
        }


class HackerNewsConnector(Connector[HackerNewsSpec]):
    """Hacker News stories and comments matching search terms (Algolia API)."""

    name = "hackernews"
    spec_class = HackerNewsSpec

    def __init__(self, spec: HackerNewsSpec) -> None:
        super().__init__(spec)
        self.http = HttpClient(spec.base_url, spec=spec, connector=self.name, stop=self.stop_event)

    def check(self) -> None:
        try:
            body = self.http.get_json("/api/v1/search_by_date", params={"query": "", "hitsPerPage": 1})
        except SourceError as exc:
            raise CheckError(f"Hacker News search at {self.spec.base_url} is not usable: {exc}") from exc
        if not isinstance(body, dict) or "hits" not in body:
            raise CheckError(f"{self.spec.base_url} does not answer like the Algolia HN Search API")

    def streams(self) -> list[Stream]:
        return [HackerNewsStream(self, term) for term in self.spec.terms]

    def close(self) -> None:
        self.http.close()
