"""RSS/Atom connector against a local server serving hand-written feeds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.sources.rss import RssConnector
from connectors.testing import FixtureServer, Reply, Request, contract_tests, run_once, status

FIXTURES = Path(__file__).parents[1] / "fixtures" / "connectors"
FEEDS = {"/rss.xml": (FIXTURES / "feed_rss2.xml").read_text(encoding="utf-8"),
         "/atom.xml": (FIXTURES / "feed_atom.xml").read_text(encoding="utf-8")}
LAST_MODIFIED = "Wed, 01 May 2024 12:30:00 GMT"


class FeedSite:
    """Serves feeds with ETag/Last-Modified; ``rotate_guids`` changes every guid on each fetch."""

    def __init__(self) -> None:
        self.fetches = 0
        self.rotate_guids = False
        self.feeds = dict(FEEDS)
        self.last_modified = LAST_MODIFIED

    def __call__(self, req: Request) -> Reply:
        body = self.feeds.get(req.path)
        if body is None:
            return status(404)
        self.fetches += 1
        if self.rotate_guids:
            body = body.replace("GUID-", f"GUID-{self.fetches}-")
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:16] + '"'
        if req.headers.get("if-none-match") == etag or (
                not self.rotate_guids and req.headers.get("if-modified-since") == self.last_modified):
            return Reply(304, b"", {"ETag": etag})
        ctype = "application/rss+xml" if "rss" in req.path else "application/atom+xml"
        return Reply.text(body, content_type=f"{ctype}; charset=utf-8",
                          headers={"ETag": etag, "Last-Modified": self.last_modified})


@contextmanager
def feed_server(site: FeedSite | None = None) -> Iterator[FixtureServer]:
    with FixtureServer(site or FeedSite()) as srv:
        yield srv


def rss_config(url: str) -> dict:
    return {"feeds": [f"{url}/rss.xml", f"{url}/atom.xml"]}


TestRssContract = contract_tests(RssConnector, server=feed_server, config=rss_config, fault_path="/rss.xml")


def test_rss_and_atom_items_are_normalised(tmp_path: Path) -> None:
    with feed_server() as srv:
        _, sink = run_once(RssConnector.from_config(rss_config(srv.url)), tmp_path)
    posts = {p.url: p for p in sink.posts}
    assert len(posts) == 5
    recall = posts["https://news.example.org/2024/05/acme-recall/"]
    assert recall.text == "Acme recalls the X1 battery\nOwners report swelling batteries."
    assert recall.author.handle == "Jane Reporter" and recall.lang == "en" and recall.hashtags == ["acme"]
    assert recall.created_at.isoformat() == "2024-05-01T12:30:00+00:00"
    launch = posts["https://news.example.org/2024/04/acme-x1"]
    assert launch.text == "Acme launches X1\nThe X1 is here.\nReviews follow."
    forum = posts["https://forum.example.de/t/42"]
    assert forum.lang == "de" and forum.author.handle == "max" and "bläht" in forum.text
    assert forum.created_at.isoformat() == "2024-05-01T12:15:00+00:00"  # published, not updated


def test_conditional_get_sends_validators_and_handles_304(tmp_path: Path) -> None:
    with feed_server() as srv:
        run_once(RssConnector.from_config(rss_config(srv.url)), tmp_path)
        srv.requests.clear()
        result, sink = run_once(RssConnector.from_config(rss_config(srv.url)), tmp_path)
        rss_req = next(r for r in srv.requests if r.path == "/rss.xml")
    assert rss_req.headers["if-none-match"].startswith('"')
    assert rss_req.headers["if-modified-since"] == LAST_MODIFIED
    assert sink.posts == [] and result.errors == []


def test_changing_guids_do_not_duplicate_items(tmp_path: Path) -> None:
    site = FeedSite()
    site.rotate_guids = True
    with feed_server(site) as srv:
        _, first = run_once(RssConnector.from_config({"feeds": [f"{srv.url}/rss.xml"]}), tmp_path)
        result, second = run_once(RssConnector.from_config({"feeds": [f"{srv.url}/rss.xml"]}), tmp_path)
    assert len(first.posts) == 3 and second.posts == []
    assert result.total("duplicates") == 3


def test_new_item_appears_on_next_poll(tmp_path: Path) -> None:
    site = FeedSite()
    with feed_server(site) as srv:
        run_once(RssConnector.from_config({"feeds": [f"{srv.url}/rss.xml"]}), tmp_path)
        site.feeds["/rss.xml"] = FEEDS["/rss.xml"].replace("<item>", """<item>
      <title>Acme apologises</title><link>https://news.example.org/2024/05/sorry</link>
      <pubDate>Wed, 01 May 2024 13:00:00 GMT</pubDate><description>Statement.</description></item>
    <item>""", 1)
        site.last_modified = "Wed, 01 May 2024 13:00:00 GMT"
        _, sink = run_once(RssConnector.from_config({"feeds": [f"{srv.url}/rss.xml"]}), tmp_path)
    assert [p.url for p in sink.posts] == ["https://news.example.org/2024/05/sorry"]
