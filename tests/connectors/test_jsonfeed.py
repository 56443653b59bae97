"""The JSON Feed connector (the worked example of docs/connectors.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.sources.jsonfeed import JsonFeedConnector
from connectors.testing import FixtureServer, Reply, Request, contract_tests, run_once, status

ITEMS = [  # newest first, as feeds publish them
    {"id": f"https://blog.example/p/{i}", "url": f"https://blog.example/p/{i}",
     "title": f"Post {i}" if i % 2 else None, "content_html": f"<p>Acme update {i} &amp; more</p>",
     "date_published": f"2024-05-01T12:{i:02d}:00Z", "authors": [{"name": f"writer{i % 3}"}],
     "tags": ["acme", "news"], "language": "en"}
    for i in range(9, 0, -1)
]


def feed(req: Request) -> Reply:
    if req.path != "/feed.json":
        return status(404)
    page = int(req.arg("page") or 1)
    chunk = ITEMS[(page - 1) * 4: page * 4]
    body = {"version": "https://jsonfeed.org/version/1.1", "title": "Example", "items": chunk}
    if page * 4 < len(ITEMS):
        body["next_url"] = f"/feed.json?page={page + 1}"
    return Reply.json(body)


@contextmanager
def jsonfeed_server() -> Iterator[FixtureServer]:
    with FixtureServer(feed) as srv:
        yield srv


TestJsonFeed = contract_tests(JsonFeedConnector, server=jsonfeed_server,
                              config=lambda url: {"feed_url": f"{url}/feed.json"}, fault_path="/feed.json")


def test_items_become_posts(tmp_path: Path) -> None:
    with jsonfeed_server() as srv:
        _, sink = run_once(JsonFeedConnector.from_config({"feed_url": f"{srv.url}/feed.json"}), tmp_path)
    assert [p.id for p in sink.posts] == [f"jsonfeed:https://blog.example/p/{i}" for i in range(1, 10)]
    first = sink.posts[0]
    assert first.text == "Post 1\nAcme update 1 & more" and first.hashtags == ["acme", "news"]
    assert first.author.handle == "writer1" and first.lang == "en"
