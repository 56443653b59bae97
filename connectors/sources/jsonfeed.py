"""JSON Feed (https://jsonfeed.org/version/1.1) connector: the worked example of docs/connectors.md."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from pydantic_settings import SettingsConfigDict

from connectors.base import CheckError, Connector, ConnectorSpec, SourceError, Stream
from connectors.http import HttpClient
from connectors.sources._text import html_to_text


class JsonFeedSpec(ConnectorSpec):
    """Where the feed is. Every field can also be set as HYPERMICRO_JSONFEED_<FIELD>."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_JSONFEED_", extra="forbid")

    feed_url: str
    """URL of the feed document (its ``next_url`` pages are followed)."""
    max_pages: int = 20


class JsonFeedStream(Stream):
    """The feed's items, oldest first; the cursor is ``date_published`` (ISO 8601 sorts as text)."""

    name = "items"
    primary_key = "id"
    cursor_field = "date_published"

    def __init__(self, connector: JsonFeedConnector) -> None:
        self.connector = connector

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        since = state.get("cursor")
        url: str | None = self.connector.spec.feed_url
        items: list[dict[str, Any]] = []
        for _ in range(self.connector.spec.max_pages):
            if url is None:
                break
            feed = self.connector.http.get_json(url)
            if not isinstance(feed, dict) or not isinstance(feed.get("items"), list):
                raise SourceError(f"{url} is not a JSON Feed (no items list)")
            page = [i for i in feed["items"] if isinstance(i, dict)]
            items += [i for i in page if since is None or str(i.get("date_published", "")) >= since]
            if since is not None and any(str(i.get("date_published", "")) < since for i in page):
                break  # the feed is newest first: older pages hold nothing new
            url = urljoin(url, feed["next_url"]) if feed.get("next_url") else None
        yield from sorted(items, key=lambda i: (str(i.get("date_published", "")), str(i.get("id"))))

    def to_post(self, item: Any) -> dict[str, Any]:
        author = (item.get("authors") or [item.get("author") or {}])[0]
        text = item.get("content_text") or html_to_text(item.get("content_html"))
        if item.get("title"):
            text = f"{item['title']}\n{text}".strip()
        if not text:
            raise ValueError(f"item {item.get('id')!r} has no content")  # the runner dead-letters it
        return {
            "id": str(item["id"]),
            "source": "jsonfeed",
            "url": item.get("url"),
            "created_at": item["date_published"],
            "text": text,
            "lang": item.get("language"),
            "author": {"id": author.get("url") or author.get("name") or "unknown",
                       "handle": author.get("name") or ""},
            "hashtags": item.get("tags") or [],
            "links": [item["external_url"]] if item.get("external_url") else [],
        }


class JsonFeedConnector(Connector[JsonFeedSpec]):
    """Items of a JSON Feed (jsonfeed.org 1.1), following next_url pages."""

    name = "jsonfeed"
    spec_class = JsonFeedSpec

    def __init__(self, spec: JsonFeedSpec) -> None:
        super().__init__(spec)
        self.http = HttpClient(spec=spec, connector=self.name, stop=self.stop_event)

    def check(self) -> None:
        try:
            feed = self.http.get_json(self.spec.feed_url)
        except SourceError as exc:
            raise CheckError(f"cannot read the feed at {self.spec.feed_url}: {exc}") from exc
        if not isinstance(feed, dict) or "jsonfeed.org" not in str(feed.get("version", "")):
            raise CheckError(f"{self.spec.feed_url} is not a JSON Feed (no jsonfeed.org version)")

    def streams(self) -> list[Stream]:
        return [JsonFeedStream(self)]

    def close(self) -> None:
        self.http.close()
