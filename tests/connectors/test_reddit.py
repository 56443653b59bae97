"""Reddit connector (OAuth client credentials, listings, comments) against a local server."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.sources.reddit import RedditConnector
from connectors.testing import FixtureServer, Reply, Request, contract_tests, run_once, status

LISTING = json.loads((Path(__file__).parents[1] / "fixtures" / "connectors" / "reddit_listing.json").read_text())
COMMENT, POST = LISTING["data"]["children"]
CLIENT_ID, SECRET = "app-id-123", "app-secret-456"
T0 = 1714564800.0


def _post(n: int) -> dict:
    t = copy.deepcopy(POST)
    t["data"].update(id=f"p{n}", name=f"t3_p{n}", created_utc=T0 + 60 * n, title=f"Acme post {n}",
                     permalink=f"/r/acme/comments/p{n}/acme_post_{n}/", author=f"user{n % 3}")
    return t


def _comment(n: int) -> dict:
    t = copy.deepcopy(COMMENT)
    t["data"].update(id=f"c{n}", name=f"t1_c{n}", created_utc=T0 + 60 * n + 30, body=f"comment {n} on acme",
                     parent_id=f"t3_p{n}", permalink=f"/r/acme/comments/p{n}/x/c{n}/")
    return t


class Reddit:
    """OAuth token endpoint + listing endpoints with ``after`` paging (newest first)."""

    def __init__(self) -> None:
        self.posts = [_post(n) for n in range(1, 8)] + [POST]
        self.comments = [_comment(n) for n in range(1, 6)] + [COMMENT]
        self.tokens: set[str] = set()
        self.issued = 0
        self.ratelimit_remaining: float | None = None

    def token(self, req: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        if req.headers.get("authorization") != expected:
            return Reply.json({"message": "Unauthorized", "error": 401}, 401)
        if b"grant_type=client_credentials" not in req.body:
            return Reply.json({"error": "unsupported_grant_type"}, 400)
        self.issued += 1
        tok = f"token-{self.issued}"
        self.tokens.add(tok)
        return Reply.json({"access_token": tok, "token_type": "bearer", "expires_in": 86400, "scope": "*"})

    def listing(self, things: list[dict], req: Request) -> Reply:
        items = sorted(things, key=lambda t: -t["data"]["created_utc"])
        after = req.arg("after")
        if after:
            idx = next(i for i, t in enumerate(items) if t["data"]["name"] == after)
            items = items[idx + 1:]
        limit = int(req.arg("limit") or 25)
        page = items[:limit]
        body = {"kind": "Listing", "data": {"after": page[-1]["data"]["name"] if len(items) > limit else None,
                                            "dist": len(page), "before": None, "children": page}}
        headers = {}
        if self.ratelimit_remaining is not None:
            headers = {"X-Ratelimit-Remaining": str(self.ratelimit_remaining), "X-Ratelimit-Reset": "1",
                       "X-Ratelimit-Used": "100"}
        return Reply.json(body, headers=headers)

    def __call__(self, req: Request) -> Reply:
        if req.path == "/api/v1/access_token":
            return self.token(req)
        auth = req.headers.get("authorization", "")
        if not auth.startswith("bearer ") or auth[7:] not in self.tokens:
            return Reply.json({"message": "Unauthorized", "error": 401}, 401)
        if req.headers.get("user-agent", "").startswith("python-httpx"):
            return status(429)  # Reddit throttles generic user agents
        if req.path == "/r/acme/about":
            return Reply.json({"kind": "t5", "data": {"display_name": "acme"}})
        if req.path == "/r/acme/new":
            return self.listing(self.posts, req)
        if req.path == "/r/acme/comments":
            return self.listing(self.comments, req)
        if req.path == "/search":
            q = (req.arg("q") or "").lower()
            return self.listing([t for t in self.posts if q in t["data"]["title"].lower()], req)
        return status(404)


@contextmanager
def reddit_server(api: Reddit | None = None) -> Iterator[FixtureServer]:
    with FixtureServer(api or Reddit()) as srv:
        yield srv


def reddit_config(url: str) -> dict:
    return {"client_id": CLIENT_ID, "client_secret": SECRET, "api_url": url,
            "token_url": f"{url}/api/v1/access_token", "subreddits": ["acme"], "search": ["post 3"],
            "page_size": 3, "requests_per_s": 1000, "burst": 100}


TestRedditContract = contract_tests(RedditConnector, server=reddit_server, config=reddit_config,
                                    bad_credentials={"client_secret": "wrong-secret"}, fault_path="/r/acme/new")


def test_posts_and_comments_are_normalised(tmp_path: Path) -> None:
    with reddit_server() as srv:
        cfg = {**reddit_config(srv.url), "search": [], "page_size": 100}
        _, sink = run_once(RedditConnector.from_config(cfg), tmp_path)
    posts = {p.id: p for p in sink.posts}
    assert len(posts) == 14
    thread, comment = posts["reddit:t3_1ch2xyz"], posts["reddit:t1_l2abcd1"]
    assert thread.text == "Acme X1 battery swelling - megathread\nPost your photos here. Acme says a fix is coming."
    assert thread.author.id == "t2_mod123" and thread.author.handle == "acme_mod"
    assert (thread.engagement.likes, thread.engagement.replies) == (532, 87) and thread.links == []
    assert comment.reply_to_post == "reddit:t3_1ch2xyz" and comment.reply_to_author == "acme_mod"
    assert comment.text.startswith("Same here, mine puffed up") and comment.hashtags == ["acme"]
    assert comment.url == "https://www.reddit.com/r/acme/comments/1ch2xyz/acme_x1_battery_swelling_megathread/l2abcd1/"


def test_new_posts_are_paged_until_the_cursor(tmp_path: Path) -> None:
    api = Reddit()
    with reddit_server(api) as srv:
        cfg = {**reddit_config(srv.url), "include_comments": False, "search": []}
        _, first = run_once(RedditConnector.from_config(cfg), tmp_path)
        assert [p.native_id for p in first.posts] == ["t3_p5", "t3_p6", "t3_p7"]  # newest page only
        api.posts += [_post(n) for n in range(8, 16)]
        srv.requests.clear()
        _, second = run_once(RedditConnector.from_config(cfg), tmp_path)
        afters = [r.arg("after") for r in srv.requests if r.path == "/r/acme/new"]
    assert [p.native_id for p in second.posts] == [f"t3_p{n}" for n in range(8, 16)]
    assert afters[0] is None and len(afters) >= 3


def test_expired_token_is_refreshed_once(tmp_path: Path) -> None:
    api = Reddit()
    with reddit_server(api) as srv:
        conn = RedditConnector.from_config({**reddit_config(srv.url), "search": []})
        conn.check()
        api.tokens.clear()  # the server forgets the token: next call gets 401, then a new token
        result, sink = run_once(conn, tmp_path)
    assert result.errors == [] and len(sink.posts) == 6 and api.issued == 2


def test_spent_rate_limit_window_is_waited_out(tmp_path: Path) -> None:
    import time

    api = Reddit()
    api.ratelimit_remaining = 0
    with reddit_server(api) as srv:
        started = time.monotonic()
        result, sink = run_once(RedditConnector.from_config(
            {**reddit_config(srv.url), "search": [], "include_comments": False}), tmp_path)
    assert result.errors == [] and sink.posts and time.monotonic() - started >= 1.0
