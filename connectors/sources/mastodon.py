"""Mastodon timelines over REST plus the streaming API (server-sent events).

Timelines (``timelines`` entries): ``public``, ``local``, ``hashtag:NAME``, ``search:QUERY``.
REST paging goes forward from the cursor with ``min_id`` (the statuses immediately newer than
the last one acknowledged), page after page, so a long gap is caught up without holes; the first
run without a cursor reads only the newest page. With ``streaming: true`` a timeline's stream
also listens to ``/api/v1/streaming/...`` (SSE ``update`` events) and, whenever that connection
drops, catches up over REST from the newest status it had before reconnecting.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import httpx
from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors import metrics
from connectors.base import AuthError, CheckError, Connector, ConnectorSpec, SourceError, Stream
from connectors.http import HttpClient, bounded_lines
from connectors.sources._text import html_to_text

log = logging.getLogger(__name__)


class MastodonSpec(ConnectorSpec):
    """A Mastodon instance and the timelines to follow."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_MASTODON_", extra="forbid")

    base_url: str = "https://mastodon.social"
    access_token: SecretStr = SecretStr("")
    """Optional for public timelines on most instances; needed for search and streaming."""
    timelines: list[str] = ["public"]
    streaming: bool = False
    page_size: int = 40
    max_pages: int = 50
    """Pages per poll; the next poll continues where this one stopped."""
    reconnect_backoff_s: float = 1.0

    @field_validator("timelines")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for t in v:
            kind = t.split(":", 1)[0]
            if kind not in ("public", "local", "hashtag", "search") or (kind in ("hashtag", "search") and ":" not in t):
                raise ValueError(f"unknown timeline {t!r}: use public, local, hashtag:NAME or search:QUERY")
        return v


_Event = tuple[Literal["update"], str] | tuple[Literal["end"], BaseException | None]
"""What the listener thread hands over: an ``update`` event's JSON text, or the end of the stream."""


def status_id(value: Any) -> int:
    return int(str(value))


class TimelineStream(Stream):
    primary_key = "id"
    cursor_field = "id"

    def __init__(self, connector: MastodonConnector, timeline: str) -> None:
        self.connector = connector
        self.timeline = timeline
        self.kind, _, self.arg = timeline.partition(":")
        self.name = timeline.replace(":", "-")
        self.streaming = connector.spec.streaming and self.kind != "search"

    # -- REST --------------------------------------------------------------
    def _page(self, min_id: int | None) -> list[dict[str, Any]]:
        spec = self.connector.spec
        params: dict[str, Any] = {"limit": spec.page_size}
        if min_id is not None:
            params["min_id"] = str(min_id)
        if self.kind in ("public", "local"):
            path = "/api/v1/timelines/public"
            if self.kind == "local":
                params["local"] = "true"
        elif self.kind == "hashtag":
            path = f"/api/v1/timelines/tag/{self.arg.lstrip('#')}"
        else:
            path = "/api/v2/search"
            params.update({"q": self.arg, "type": "statuses", "resolve": "false"})
        body = self.connector.http.get_json(path, params=params)
        statuses = body.get("statuses") if isinstance(body, dict) else body
        if not isinstance(statuses, list):
            raise SourceError(f"unexpected response from {path}: {str(body)[:200]}")
        return sorted((s for s in statuses if isinstance(s, dict) and "id" in s), key=lambda s: status_id(s["id"]))

    def catch_up(self, cursor: int | None) -> Iterator[dict[str, Any]]:
        """Statuses newer than ``cursor``, oldest first (only the newest page when ``None``)."""
        if cursor is None:
            yield from self._page(None)
            return
        for _ in range(self.connector.spec.max_pages):
            page = self._page(cursor)
            yield from page
            if len(page) < self.connector.spec.page_size or not page:
                return
            cursor = max(cursor, status_id(page[-1]["id"]))

    # -- streaming ---------------------------------------------------------
    def _stream_path(self) -> tuple[str, dict[str, str]]:
        if self.kind == "public":
            return "/api/v1/streaming/public", {}
        if self.kind == "local":
            return "/api/v1/streaming/public/local", {}
        return "/api/v1/streaming/hashtag", {"tag": self.arg.lstrip("#")}

    def _listen(self, out: queue.Queue[_Event], stop: threading.Event, holder: dict[str, httpx.Response]) -> None:
        """Read SSE events into ``out`` until the connection ends; then put the exception (or None)."""
        path, params = self._stream_path()
        http = self.connector.http
        end: BaseException | None = None
        try:
            with http.stream("GET", path, params=params, timeout=httpx.Timeout(10.0, read=None)) as resp:
                holder["response"] = resp
                if resp.status_code in (401, 403):
                    raise AuthError(f"streaming API refused the token ({resp.status_code})")
                if resp.status_code >= 400:
                    raise SourceError(f"streaming API answered {resp.status_code}")
                event, data, size = "", list[str](), 0
                for line in bounded_lines(resp, http.max_response_bytes):
                    if stop.is_set():
                        break
                    if line == "":
                        if event == "update" and data:
                            out.put(("update", "\n".join(data)))
                        event, data, size = "", list[str](), 0
                    elif line.startswith(":"):
                        continue  # heartbeat comment
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip())
                        size += len(line)
                        if size > http.max_response_bytes:  # one event, not a post: drop the stream
                            raise SourceError(f"streaming event larger than max_response_bytes={http.max_response_bytes}")
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            end = exc
        out.put(("end", end))

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        cursor = state.get("cursor")
        last = None if cursor is None else status_id(cursor)
        for status in self.catch_up(last):
            last = max(last or 0, status_id(status["id"]))
            yield status
        if not self.streaming:
            return
        stop = self.connector.stop_event
        while not stop.is_set():
            events: queue.Queue[_Event] = queue.Queue(maxsize=10_000)
            listener_stop = threading.Event()
            holder: dict[str, httpx.Response] = {}
            thread = threading.Thread(target=self._listen, args=(events, listener_stop, holder), daemon=True,
                                      name=f"mastodon-sse-{self.name}")
            thread.start()
            try:
                while True:
                    try:
                        kind, payload = events.get(timeout=1.0)
                    except queue.Empty:
                        yield None
                        continue
                    if kind == "end":
                        if isinstance(payload, AuthError):
                            raise payload
                        metrics.ERRORS.labels(self.connector.name, self.name, "reconnect").inc()
                        log.warning("mastodon %s: stream ended (%r); catching up over REST and reconnecting",
                                    self.timeline, payload)
                        break
                    assert isinstance(payload, str)
                    try:
                        status = json.loads(payload)
                    except ValueError:
                        yield {"__malformed__": payload}  # dead-lettered by the runner, not dropped
                        continue
                    if isinstance(status, dict) and "id" in status:
                        last = max(last or 0, status_id(status["id"]))
                    yield status
            finally:
                listener_stop.set()
                response = holder.get("response")
                if response is not None:
                    with contextlib.suppress(Exception):
                        response.close()  # unblocks the listener thread
            if stop.wait(self.connector.spec.reconnect_backoff_s):
                return
            for status in self.catch_up(last):
                last = max(last or 0, status_id(status["id"]))
                yield status

    def cursor_of(self, record: Any) -> Any:
        return status_id(record["id"]) if isinstance(record, dict) and "id" in record else None

    def to_post(self, status: Any) -> dict[str, Any]:
        if "__malformed__" in status:
            raise ValueError("malformed streaming event")
        original = status.get("reblog") or status
        account = status.get("account") or {}
        quote = (status.get("quote") or {}).get("quoted_status") or {}
        return {
            "id": str(status["id"]),
            "source": "mastodon",
            "url": status.get("url") or status.get("uri"),
            "created_at": status["created_at"],
            "text": html_to_text(original.get("content")) or html_to_text(original.get("spoiler_text")),
            "lang": original.get("language"),
            "author": {"id": str(account.get("id", "")), "handle": account.get("acct", ""),
                       "display_name": account.get("display_name", ""),
                       "followers": max(0, int(account.get("followers_count") or 0)),
                       "following": max(0, int(account.get("following_count") or 0))},
            "reply_to_author": status.get("in_reply_to_account_id"),
            "reply_to_post": f"mastodon:{status['in_reply_to_id']}" if status.get("in_reply_to_id") else None,
            "repost_of_author": (status["reblog"].get("account") or {}).get("id") if status.get("reblog") else None,
            "repost_of_post": f"mastodon:{status['reblog']['id']}" if status.get("reblog") else None,
            "quote_of_author": (quote.get("account") or {}).get("id"),
            "mentions": [m.get("acct") for m in original.get("mentions") or []],
            "hashtags": [t.get("name") for t in original.get("tags") or []],
            "links": [c["url"] for c in [original.get("card") or {}] if c.get("url")],
            "engagement": {"likes": max(0, int(original.get("favourites_count") or 0)),
                           "reposts": max(0, int(original.get("reblogs_count") or 0)),
                           "replies": max(0, int(original.get("replies_count") or 0))},
        }


class MastodonConnector(Connector[MastodonSpec]):
    """Mastodon public/hashtag/search timelines (REST, min_id paging) and the streaming API (SSE)."""

    name = "mastodon"
    spec_class = MastodonSpec

    def __init__(self, spec: MastodonSpec) -> None:
        super().__init__(spec)
        token = spec.access_token.get_secret_value()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = HttpClient(spec.base_url, spec=spec, connector=self.name, headers=headers,
                               stop=self.stop_event)

    def check(self) -> None:
        try:
            self.http.get_json("/api/v1/instance")
            if self.spec.access_token.get_secret_value():
                self.http.get_json("/api/v1/apps/verify_credentials")
        except AuthError as exc:
            raise CheckError(f"mastodon: {self.spec.base_url} refused the access token ({exc})") from exc
        except SourceError as exc:
            raise CheckError(f"mastodon: cannot reach {self.spec.base_url}: {exc}") from exc

    def streams(self) -> list[Stream]:
        return [TimelineStream(self, t) for t in self.spec.timelines]

    def close(self) -> None:
        self.http.close()
