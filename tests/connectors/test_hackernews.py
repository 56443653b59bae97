"""Hacker News (Algolia HN Search API) connector against a local server speaking that API."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.sources.hackernews import HackerNewsConnector
from connectors.testing import FixtureServer, Reply, Request, contract_tests, run_once, status

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "connectors" / "hn_search_by_date.json").read_text())
BASE_T = 1714564800


def _hits() -> list[dict]:
    hits = [dict(h) for h in FIXTURE["hits"]]
    for i in range(8):  # more stories and comments, two sharing a second with the fixture story
        t = BASE_T + 30 * i if i else BASE_T
        if i % 2:
            hits.append({"created_at_i": t, "author": f"user{i}", "comment_text": f"acme comment {i} &amp; more",
                         "parent_id": 40000001, "story_id": 40000001, "_tags": ["comment"],
                         "objectID": str(40000100 + i), "points": None, "num_comments": None})
        else:
            hits.append({"created_at_i": t, "author": f"user{i}", "title": f"Acme launch {i}",
                         "url": f"https://acme.example/{i}", "story_text": None, "_tags": ["story"],
                         "objectID": str(40000200 + i), "points": i, "num_comments": 1})
    hits.append({"created_at_i": BASE_T + 5, "author": "x", "title": "Unrelated", "_tags": ["story"],
                 "objectID": "40000999"})
    for h in hits:
        h.setdefault("created_at", None)
    return hits


HITS = _hits()


def algolia(req: Request) -> Reply:
    if req.path != "/api/v1/search_by_date":
        return status(404)
    query = (req.arg("query") or "").lower()
    tags = req.arg("tags") or ""
    wanted = set(re.findall(r"story|comment", tags)) or {"story", "comment"}
    since = 0
    m = re.match(r"created_at_i>=(\d+)", req.arg("numericFilters") or "")
    if m:
        since = int(m.group(1))
    per_page = int(req.arg("hitsPerPage") or 20)
    page = int(req.arg("page") or 0)

    def text(h: dict) -> str:
        return " ".join(str(h.get(k) or "") for k in ("title", "comment_text", "story_text")).lower()

    hits = [h for h in HITS if h["created_at_i"] >= since and set(h["_tags"]) & wanted and query in text(h)]
    hits.sort(key=lambda h: -h["created_at_i"])
    pages = math.ceil(len(hits) / per_page) if hits else 0
    body = {**{k: v for k, v in FIXTURE.items() if k != "hits"}, "hits": hits[page * per_page:(page + 1) * per_page],
            "nbHits": len(hits), "page": page, "nbPages": pages, "hitsPerPage": per_page, "query": query}
    return Reply.json(body)


@contextmanager
def hn_server() -> Iterator[FixtureServer]:
    with FixtureServer(algolia) as srv:
        yield srv


def hn_config(url: str) -> dict:
    return {"base_url": url, "terms": ["acme"], "hits_per_page": 3, "lookback_hours": 1e6}


TestHackerNewsContract = contract_tests(HackerNewsConnector, server=hn_server, config=hn_config,
                                        fault_path="/api/v1/search_by_date")


def test_stories_and_comments_are_normalised(tmp_path: Path) -> None:
    with hn_server() as srv:
        result, sink = run_once(HackerNewsConnector.from_config(hn_config(srv.url)), tmp_path)
    posts = {p.id: p for p in sink.posts}
    assert len(posts) == 10 and "hackernews:40000999" not in posts
    story, comment = posts["hackernews:40000001"], posts["hackernews:40000007"]
    assert story.text == "Acme Cloud is down" and story.links == ["https://status.acme.example/"]
    assert (story.engagement.likes, story.engagement.replies) == (120, 48)
    assert story.author.id == "pg" and story.url == "https://news.ycombinator.com/item?id=40000001"
    assert comment.text == "Acme's status page says it's fine, but nothing loads.\nAnyone else?"
    assert comment.reply_to_post == "hackernews:40000001"
    assert [p.created_at.timestamp() for p in sink.posts] == sorted(p.created_at.timestamp() for p in sink.posts)
    assert result.streams[0].cursor == BASE_T + 250


def test_stories_only_when_comments_are_excluded(tmp_path: Path) -> None:
    with hn_server() as srv:
        _, sink = run_once(HackerNewsConnector.from_config({**hn_config(srv.url), "include_comments": False}),
                           tmp_path)
    assert sink.posts and all(p.reply_to_post is None for p in sink.posts)


def test_second_poll_asks_only_for_newer_hits_and_produces_nothing_twice(tmp_path: Path) -> None:
    with hn_server() as srv:
        _, first = run_once(HackerNewsConnector.from_config(hn_config(srv.url)), tmp_path)
        srv.requests.clear()
        result, second = run_once(HackerNewsConnector.from_config(hn_config(srv.url)), tmp_path)
        assert srv.requests[0].arg("numericFilters") == f"created_at_i>={BASE_T + 250}"
    assert first.posts and second.posts == []
    assert result.total("duplicates") == 1  # the boundary hit, re-read and skipped


def test_overlapping_and_out_of_order_pages_produce_each_hit_once(tmp_path: Path) -> None:
    def shifting(req: Request) -> Reply:
        """Pages overlap by one hit (new hits arriving while paging) and come in random order."""
        reply = algolia(req)
        body = json.loads(reply.body)
        page = int(req.arg("page") or 0)
        if page > 0:
            prev = algolia(Request(req.method, req.path, {**req.query, "page": [str(page - 1)]}, req.headers, b""))
            body["hits"] = [json.loads(prev.body)["hits"][-1], *body["hits"]]
        body["hits"].reverse()
        return Reply.json(body)

    with FixtureServer(shifting) as srv:
        result, sink = run_once(HackerNewsConnector.from_config(hn_config(srv.url)), tmp_path)
    assert len(sink.ids) == len(set(sink.ids)) == 10 and result.errors == []
    assert [p.created_at for p in sink.posts] == sorted(p.created_at for p in sink.posts)
