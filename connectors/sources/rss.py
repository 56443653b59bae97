"""RSS and Atom feeds (feedparser), polled with conditional GET (ETag / Last-Modified).

One stream per feed. Feeds are sliding windows of recent items, so nothing is filtered by the
cursor: every item is keyed and the runner skips keys it has seen. The key is the item's link
(normalised), falling back to its guid, then to a hash of title and summary: feeds that
regenerate guids on every fetch do not produce duplicates. ETag and Last-Modified are saved
(with the next checkpoint) only after a clean parse, so a truncated or malformed response is
fetched again in full.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import feedparser
from pydantic_settings import SettingsConfigDict

from connectors.base import CheckError, Connector, ConnectorSpec, SourceError, StateUpdate, Stream
from connectors.http import HttpClient, RetryableError
from connectors.sources._text import html_to_text

log = logging.getLogger(__name__)


class RssSpec(ConnectorSpec):
    """Feeds to poll (RSS 0.9x/1.0/2.0 or Atom)."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_RSS_", extra="forbid")

    feeds: list[str]
    """Feed URLs; one stream each."""


def _normal_link(link: str) -> str:
    parts = urlsplit(link.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/") or "/", parts.query, ""))


def entry_key(entry: Mapping[str, Any]) -> str:
    """A stable key for a feed item: link, else guid, else a hash of title and summary."""
    link = entry.get("link")
    if link:
        return _normal_link(str(link))
    if entry.get("id"):
        return str(entry["id"])
    digest = hashlib.sha256(f"{entry.get('title', '')}\n{entry.get('summary', '')}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def _entry_time(entry: Mapping[str, Any]) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
    return None


class FeedStream(Stream):
    primary_key = "key"
    cursor_field = "published"

    def __init__(self, connector: RssConnector, url: str) -> None:
        self.connector = connector
        self.url = url
        parts = urlsplit(url)
        self.name = f"{parts.netloc}{parts.path}{'?' + parts.query if parts.query else ''}".strip("/") or url

    def fetch(self, state: Mapping[str, Any]) -> tuple[Any, dict[str, str] | None]:
        """GET the feed conditionally; (parsed feed or None for 304, validators to save)."""
        headers = {}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        if state.get("last_modified"):
            headers["If-Modified-Since"] = state["last_modified"]
        http = self.connector.http

        def once() -> tuple[Any, dict[str, str] | None]:
            response = http.send_once("GET", self.url, headers=headers)
            if response.status_code == 304:
                return None, None
            parsed = feedparser.parse(response.content, response_headers={
                k.lower(): v for k, v in response.headers.items() if k.lower() in ("content-type", "content-location")})
            if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
                raise RetryableError("malformed", f"{self.url}: not a feed ({parsed.get('bozo_exception')!r})")
            if parsed.bozo:  # parsed partially: take what is there but fetch it all again next time
                log.warning("%s: feed is not well formed (%r); items kept, validators not saved",
                            self.url, parsed.get("bozo_exception"))
                return parsed, None
            validators = {"etag": response.headers.get("ETag", ""),
                          "last_modified": response.headers.get("Last-Modified", "")}
            return parsed, validators

        return http.call(once)

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        parsed, validators = self.fetch(state)
        if parsed is None:
            return
        feed_info = parsed.feed
        records = []
        for order, entry in enumerate(parsed.entries):
            when = _entry_time(entry)
            records.append({
                "key": entry_key(entry),
                "published": when.isoformat() if when else None,
                "feed_url": self.url,
                "feed_title": feed_info.get("title", ""),
                "feed_language": feed_info.get("language"),
                "entry": {k: entry.get(k) for k in ("id", "link", "title", "summary", "author", "tags", "content")},
                "_order": order,
            })
        records.sort(key=lambda r: (r["published"] or "", -r["_order"]))
        yield from records
        if validators is not None:
            yield StateUpdate(validators)

    def cursor_of(self, record: Any) -> Any:
        return record.get("published")

    def to_post(self, record: Any) -> dict[str, Any]:
        entry = record["entry"]
        body = ""
        if entry.get("content"):
            body = html_to_text(entry["content"][0].get("value"))
        body = body or html_to_text(entry.get("summary"))
        title = html_to_text(entry.get("title"))
        text = "\n".join(x for x in (title, body) if x)
        if not text:
            raise ValueError(f"feed item {record['key']} has neither title nor text")
        author = entry.get("author") or record["feed_title"] or record["feed_url"]
        return {
            "id": hashlib.sha256(record["key"].encode()).hexdigest()[:24],
            "source": "rss",
            "url": entry.get("link"),
            "created_at": record["published"] or datetime.now(UTC),
            "text": text,
            "lang": (record.get("feed_language") or "")[:2] or None,
            "author": {"id": f"{record['feed_url']}#{author}", "handle": author, "display_name": author},
            "hashtags": [t.get("term") for t in entry.get("tags") or [] if t.get("term") and " " not in t["term"]],
            "links": [entry["link"]] if entry.get("link") else [],
        }


class RssConnector(Connector[RssSpec]):
    """RSS/Atom feeds, polled with conditional GET."""

    name = "rss"
    spec_class = RssSpec

    def __init__(self, spec: RssSpec) -> None:
        super().__init__(spec)
        self.http = HttpClient(spec=spec, connector=self.name, stop=self.stop_event)

    def check(self) -> None:
        if not self.spec.feeds:
            raise CheckError("rss: no feeds configured")
        for stream in self._feeds():
            try:
                stream.fetch({})
            except SourceError as exc:
                raise CheckError(f"rss: cannot read {stream.url}: {exc}") from exc

    def _feeds(self) -> list[FeedStream]:
        return [FeedStream(self, url) for url in self.spec.feeds]

    def streams(self) -> list[Stream]:
        return list(self._feeds())

    def close(self) -> None:
        self.http.close()
