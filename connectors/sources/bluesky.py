"""Bluesky posts from a Jetstream websocket (``/subscribe``), with collection and keyword filters.

Jetstream sends JSON events ``{"did", "time_us", "kind": "commit", "commit": {"operation",
"collection", "rkey", "record", "cid"}}``. The cursor is ``time_us``; a reconnect (after a drop
or a restart) passes ``cursor=<last time_us - rewind>`` so nothing in between is missed, and the
replayed overlap is skipped as already seen. Keyword filtering happens here (Jetstream filters by
collection and DID only). Events that are not valid JSON are dead-lettered, not dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pydantic_settings import SettingsConfigDict

from connectors import metrics
from connectors.base import CheckError, Connector, ConnectorSpec, Stream

log = logging.getLogger(__name__)

POST_COLLECTION = "app.bsky.feed.post"


class JetstreamSpec(ConnectorSpec):
    """Jetstream endpoint and filters."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_BLUESKY_", extra="forbid")

    url: str = "wss://jetstream2.us-east.bsky.network/subscribe"
    collections: list[str] = [POST_COLLECTION]
    """``wantedCollections``; only post records become posts."""
    dids: list[str] = []
    """``wantedDids`` (empty: everyone)."""
    keywords: list[str] = []
    """Keep posts whose text contains any of these (case-insensitive); empty keeps all."""
    rewind_s: float = 5.0
    """Seconds re-read before the cursor on reconnect (Jetstream's advice for gapless resumes)."""
    reconnect_backoff_s: float = 1.0


def _did_of(uri: str | None) -> str | None:
    """The repo DID of an ``at://did/collection/rkey`` URI."""
    if not uri or not uri.startswith("at://"):
        return None
    return uri[5:].split("/", 1)[0] or None


class JetstreamStream(Stream):
    name = "jetstream"
    primary_key = "key"
    cursor_field = "time_us"
    streaming = True

    def __init__(self, connector: JetstreamConnector) -> None:
        self.connector = connector
        spec = connector.spec
        self.keywords = [k.lower() for k in spec.keywords]

    def url(self, cursor: int | None) -> str:
        spec = self.connector.spec
        params: list[tuple[str, str]] = [("wantedCollections", c) for c in spec.collections]
        params += [("wantedDids", d) for d in spec.dids]
        if cursor is not None:
            params.append(("cursor", str(max(0, cursor - int(spec.rewind_s * 1_000_000)))))
        return f"{spec.url}?{urlencode(params)}" if params else spec.url

    def wanted(self, event: Mapping[str, Any]) -> bool:
        commit = event.get("commit") or {}
        if event.get("kind") != "commit" or commit.get("operation") != "create":
            return False
        if commit.get("collection") != POST_COLLECTION:
            return False
        if not self.keywords:
            return True
        text = str((commit.get("record") or {}).get("text", "")).lower()
        return any(k in text for k in self.keywords)

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake
        from websockets.sync.client import connect

        cursor = state.get("cursor")
        last: int | None = None if cursor is None else int(cursor)
        stop = self.connector.stop_event
        spec = self.connector.spec
        while not stop.is_set():
            try:
                with connect(self.url(last), open_timeout=spec.timeout_s, close_timeout=1,
                             max_size=2**22) as ws:
                    while not stop.is_set():
                        try:
                            message = ws.recv(timeout=1.0)
                        except TimeoutError:
                            yield None
                            continue
                        try:
                            event = json.loads(message)
                            if not isinstance(event, dict):
                                raise ValueError("event is not an object")
                        except ValueError:
                            metrics.ERRORS.labels(self.connector.name, self.name, "malformed").inc()
                            yield {"__malformed__": message if isinstance(message, str) else repr(message)}
                            continue
                        t = event.get("time_us")
                        if isinstance(t, int):
                            last = t if last is None else max(last, t)
                        if self.wanted(event):
                            yield event
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                metrics.ERRORS.labels(self.connector.name, self.name, "reconnect").inc()
                log.warning("bluesky jetstream: connection lost (%r); reconnecting from time_us=%s", exc, last)
            yield None
            if stop.wait(spec.reconnect_backoff_s):
                return

    def key_of(self, record: Any) -> str:
        if "__malformed__" in record:
            raise ValueError(f"malformed Jetstream event: {str(record['__malformed__'])[:200]}")
        commit = record["commit"]
        return f"at://{record['did']}/{commit['collection']}/{commit['rkey']}"

    def cursor_of(self, record: Any) -> Any:
        return record.get("time_us")

    def to_post(self, event: Any) -> dict[str, Any]:
        did = event["did"]
        commit = event["commit"]
        rec = commit.get("record") or {}
        uri = self.key_of(event)
        created = rec.get("createdAt") or datetime.fromtimestamp(event["time_us"] / 1e6, UTC)
        reply_parent = ((rec.get("reply") or {}).get("parent") or {}).get("uri")
        embed = rec.get("embed") or {}
        quoted = None
        if embed.get("$type") == "app.bsky.embed.record":
            quoted = (embed.get("record") or {}).get("uri")
        elif embed.get("$type") == "app.bsky.embed.recordWithMedia":
            quoted = ((embed.get("record") or {}).get("record") or {}).get("uri")
        mentions, tags, links = [], list(rec.get("tags") or []), []
        for facet in rec.get("facets") or []:
            for feature in facet.get("features") or []:
                kind = feature.get("$type", "")
                if kind.endswith("#mention") and feature.get("did"):
                    mentions.append(feature["did"])
                elif kind.endswith("#tag") and feature.get("tag"):
                    tags.append(feature["tag"])
                elif kind.endswith("#link") and feature.get("uri"):
                    links.append(feature["uri"])
        return {
            "id": uri,
            "source": "bluesky",
            "url": f"https://bsky.app/profile/{did}/post/{commit['rkey']}",
            "created_at": created,
            "text": rec.get("text", ""),
            "lang": (rec.get("langs") or [None])[0],
            "author": {"id": did},
            "reply_to_author": _did_of(reply_parent),
            "reply_to_post": f"bluesky:{reply_parent}" if reply_parent else None,
            "quote_of_author": _did_of(quoted),
            "mentions": mentions,
            "hashtags": tags,
            "links": links,
        }


class JetstreamConnector(Connector[JetstreamSpec]):
    """Bluesky posts from Jetstream (websocket), filtered by collection, DID and keyword."""

    name = "bluesky"
    spec_class = JetstreamSpec

    def check(self) -> None:
        from websockets.exceptions import InvalidHandshake, InvalidURI
        from websockets.sync.client import connect

        url = JetstreamStream(self).url(None)
        try:
            with connect(url, open_timeout=min(self.spec.timeout_s, 10.0), close_timeout=1):
                pass
        except (InvalidHandshake, InvalidURI, OSError, TimeoutError) as exc:
            raise CheckError(f"bluesky: cannot open the Jetstream websocket at {self.spec.url}: {exc!r}") from exc

    def streams(self) -> list[Stream]:
        return [JetstreamStream(self)]
