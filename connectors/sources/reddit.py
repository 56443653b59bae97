"""Reddit subreddit and search listings, comments included, with OAuth app credentials.

Auth: the client-credentials grant (``POST /api/v1/access_token``, HTTP basic auth with the
app's id and secret, ``grant_type=client_credentials``) gives a bearer token for
``https://oauth.reddit.com``; it is refreshed before it expires and once on a 401.
Streams: ``r-<sub>-posts`` (``/r/<sub>/new``), ``r-<sub>-comments`` (``/r/<sub>/comments``) and
``search-<query>`` (``/search?sort=new``). Listings are newest first: a poll follows ``after``
until it reaches the cursor (``created_utc``, inclusive), then yields oldest first. When
``X-Ratelimit-Remaining`` runs out the stream waits ``X-Ratelimit-Reset`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import httpx
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from connectors.base import AuthError, CheckError, Connector, ConnectorSpec, SourceError, Stream
from connectors.http import HttpClient, RetryableError, ShutdownRequested, parse_retry_after
from connectors.sources._text import from_epoch

log = logging.getLogger(__name__)


class RedditSpec(ConnectorSpec):
    """Reddit app credentials and what to follow."""

    model_config = SettingsConfigDict(env_prefix="HYPERMICRO_REDDIT_", extra="forbid")

    client_id: str
    client_secret: SecretStr
    user_agent: str = "hypermicro/0.1 (social listening)"
    """Reddit requires a descriptive User-Agent."""
    subreddits: list[str] = []
    search: list[str] = []
    include_comments: bool = True
    api_url: str = "https://oauth.reddit.com"
    token_url: str = "https://www.reddit.com/api/v1/access_token"
    page_size: int = 100
    max_pages: int = 10
    requests_per_s: float = 1.0


class ClientCredentialsAuth(httpx.Auth):
    """httpx auth flow: fetch/refresh an app-only bearer token (thread-safe)."""

    def __init__(self, token_url: str, client_id: str, client_secret: SecretStr, user_agent: str,
                 timeout_s: float) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.user_agent = user_agent
        self.timeout_s = timeout_s
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self, force: bool = False, stale: str | None = None) -> str:
        """A valid token; ``force`` fetches a new one, ``stale`` only if that one is still current."""
        with self._lock:
            if stale is not None and self._token != stale and self._token:
                return self._token  # another thread already replaced the refused token
            if not force and stale is None and self._token and time.monotonic() < self._expires - 60:
                return self._token
            try:
                resp = httpx.post(self.token_url, data={"grant_type": "client_credentials"},
                                  auth=(self.client_id, self.client_secret.get_secret_value()),
                                  headers={"User-Agent": self.user_agent}, timeout=self.timeout_s)
            except httpx.HTTPError as exc:
                raise RetryableError("connection", f"token endpoint {self.token_url}: {exc!r}") from exc
            if resp.status_code in (400, 401, 403):
                raise AuthError(f"Reddit refused the client credentials for app {self.client_id!r} "
                                f"({resp.status_code})")
            if resp.status_code == 429 or resp.status_code >= 500:
                raise RetryableError("http_5xx" if resp.status_code >= 500 else "http_429",
                                     f"token endpoint answered {resp.status_code}",
                                     parse_retry_after(resp.headers.get("Retry-After")))
            if resp.status_code >= 400:
                raise SourceError(f"token endpoint answered {resp.status_code}")
            try:
                body = resp.json()
                self._token = str(body["access_token"])
            except (ValueError, KeyError) as exc:
                raise RetryableError("malformed", f"token endpoint sent no access_token: {resp.text[:100]}") from exc
            self._expires = time.monotonic() + float(body.get("expires_in", 3600))
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        used = self.token()
        request.headers["Authorization"] = f"bearer {used}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"bearer {self.token(stale=used)}"
            yield request


def _thing_time(thing: Mapping[str, Any]) -> float:
    return float(thing["data"].get("created_utc") or 0.0)


class ListingStream(Stream):
    primary_key = "data.name"
    cursor_field = "data.created_utc"

    def __init__(self, connector: RedditConnector, name: str, path: str, params: dict[str, Any]) -> None:
        self.connector = connector
        self.name = name
        self.path = path
        self.params = params

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        response, body = self.connector.http.request_json("GET", self.path, params=params)
        self.connector.respect_rate_headers(response)
        if not isinstance(body, dict) or body.get("kind") != "Listing":
            raise SourceError(f"{self.path}: expected a Listing, got {str(body)[:200]}")
        return body["data"]

    def read(self, state: Mapping[str, Any]) -> Iterator[Any]:
        spec = self.connector.spec
        since = state.get("cursor")
        things: dict[str, dict[str, Any]] = {}
        after = None
        for _ in range(spec.max_pages if since is not None else 1):
            params = {**self.params, "limit": spec.page_size, "raw_json": 1}
            if after:
                params["after"] = after
            data = self._get(params)
            children = [c for c in data.get("children") or [] if isinstance(c, dict) and c.get("data")]
            for child in children:
                if since is None or _thing_time(child) >= float(since):
                    things[str(child["data"].get("name"))] = child
            after = data.get("after")
            if not after or not children or (since is not None and min(map(_thing_time, children)) < float(since)):
                break
        yield from sorted(things.values(), key=lambda t: (_thing_time(t), str(t["data"].get("name"))))

    def cursor_of(self, record: Any) -> Any:
        return _thing_time(record)

    def to_post(self, thing: Any) -> dict[str, Any]:
        d = thing["data"]
        kind = thing.get("kind")
        if kind == "t3":
            text = "\n".join(x for x in (d.get("title") or "", d.get("selftext") or "") if x)
            reply_post, reply_author = None, None
            url = d.get("url") if not d.get("is_self") else None
        elif kind == "t1":
            text = d.get("body") or ""
            parent = d.get("parent_id") or ""
            reply_post = f"reddit:{parent}" if parent else None
            reply_author = d.get("link_author") if parent.startswith("t3_") else None
            url = None
        else:
            raise ValueError(f"unsupported thing kind {kind!r}")
        if text in ("[deleted]", "[removed]"):
            raise ValueError(f"{d.get('name')} was deleted or removed")
        return {
            "id": d["name"],
            "source": "reddit",
            "url": f"https://www.reddit.com{d['permalink']}" if d.get("permalink") else None,
            "created_at": from_epoch(float(d["created_utc"])),
            "text": text,
            "lang": None,
            "author": {"id": d.get("author_fullname") or d.get("author") or "unknown", "handle": d.get("author", "")},
            "reply_to_post": reply_post,
            "reply_to_author": reply_author,
            "repost_of_post": f"reddit:{d['crosspost_parent']}" if d.get("crosspost_parent") else None,
            "hashtags": [d["subreddit"]] if d.get("subreddit") else [],
            "links": [url] if url else [],
            "engagement": {"likes": max(0, int(d.get("score") or 0)), "replies": int(d.get("num_comments") or 0)},
        }


class RedditConnector(Connector[RedditSpec]):
    """Reddit subreddits (posts and comments) and searches via OAuth app credentials."""

    name = "reddit"
    spec_class = RedditSpec

    def __init__(self, spec: RedditSpec) -> None:
        super().__init__(spec)
        self.auth = ClientCredentialsAuth(spec.token_url, spec.client_id, spec.client_secret, spec.user_agent,
                                          spec.timeout_s)
        self.http = HttpClient(spec.api_url, spec=spec, connector=self.name, auth=self.auth,
                               headers={"User-Agent": spec.user_agent}, stop=self.stop_event)

    def respect_rate_headers(self, response: httpx.Response) -> None:
        """Wait out Reddit's window when ``X-Ratelimit-Remaining`` is spent."""
        try:
            remaining = float(response.headers.get("X-Ratelimit-Remaining", "inf"))
            reset = float(response.headers.get("X-Ratelimit-Reset", "0"))
        except ValueError:
            return
        if remaining < 1 and reset > 0:
            log.warning("reddit: rate limit window spent, waiting %.0fs", reset)
            if self.stop_event.wait(min(reset, self.spec.max_backoff_s)):
                raise ShutdownRequested("stopped while rate limited")

    def check(self) -> None:
        try:
            self.http.call(lambda: self.auth.token(force=True))
            target = f"/r/{self.spec.subreddits[0]}/about" if self.spec.subreddits else "/api/v1/scopes"
            self.http.get_json(target)
        except AuthError as exc:
            raise CheckError(str(exc)) from exc
        except SourceError as exc:
            raise CheckError(f"reddit: cannot reach {self.spec.api_url}: {exc}") from exc
        if not self.spec.subreddits and not self.spec.search:
            raise CheckError("reddit: configure at least one of subreddits or search")

    def streams(self) -> list[Stream]:
        out: list[Stream] = []
        for sub in self.spec.subreddits:
            sub = sub.removeprefix("r/")
            out.append(ListingStream(self, f"r-{sub}-posts", f"/r/{sub}/new", {}))
            if self.spec.include_comments:
                out.append(ListingStream(self, f"r-{sub}-comments", f"/r/{sub}/comments", {}))
        for query in self.spec.search:
            out.append(ListingStream(self, f"search-{query}", "/search", {"q": query, "sort": "new", "type": "link"}))
        return out

    def close(self) -> None:
        self.http.close()
