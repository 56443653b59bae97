"""Findings 1, 3 and 5 of the hostile-input review, against a real HTTP server and the real
broker: a hostile feed cannot stop the connector, make it lose a healthy feed's posts, reach
another origin, hold a request open, or flood the topic on every poll."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from connectors.run_types import RunnerOptions
from connectors.runner import run_connector
from connectors.sources.rss import RssConnector
from connectors.testing import Chunks, FixtureServer, Reply, Request, status

pytestmark = pytest.mark.kafka


def rss(items: list[tuple[str, str, datetime]]) -> str:
    body = "".join(f"<item><title>{t}</title><link>https://news.example/{k}</link><guid>{k}</guid>"
                   f"<pubDate>{format_datetime(d)}</pubDate></item>" for k, t, d in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'


NOW = datetime.now(UTC).replace(microsecond=0)
HEALTHY = rss([(f"ok{i}", f"healthy item {i}", NOW - timedelta(minutes=10 - i)) for i in range(5)])
OVERSIZE = rss([("big", "x" * (5 * 1024 * 1024), NOW - timedelta(minutes=3)),
                ("small", "a normal item", NOW - timedelta(minutes=2))])
OLD = rss([(f"old{i}", f"item {i}", datetime(1990 + i // 12, i % 12 + 1, 1, tzinfo=UTC)) for i in range(120)])  # 1990s: before the 20-year horizon
FUTURE = rss([("future", "from 2100", datetime(2100, 1, 1, tzinfo=UTC))])


class HostileSite:
    def __init__(self, other_origin: str = "") -> None:
        self.other_origin = other_origin

    def __call__(self, req: Request) -> Reply | Chunks:
        feeds = {"/healthy.xml": HEALTHY, "/oversize.xml": OVERSIZE, "/old.xml": OLD, "/future.xml": FUTURE}
        if req.path in feeds:
            return Reply.text(feeds[req.path], content_type="application/rss+xml")
        if req.path == "/loop":
            return Reply(302, b"", {"Location": "/loop2"})
        if req.path == "/loop2":
            return Reply(302, b"", {"Location": "/loop"})
        if req.path == "/elsewhere":
            return Reply(302, b"", {"Location": f"{self.other_origin}/secret.xml"})
        if req.path == "/huge.xml":
            return Chunks(iter([b"<rss>" + b"x" * 1024 * 1024] * 30))  # 30 MB, no Content-Length
        if req.path == "/dribble.xml":
            def slow() -> Iterator[bytes]:
                for ch in HEALTHY.encode():
                    time.sleep(0.5)
                    yield bytes([ch])
            return Chunks(slow())
        return status(404)


def secret_site(req: Request) -> Reply:
    return Reply.text(rss([("secret", "internal text", NOW)]), content_type="application/rss+xml")


def consume_json(consume, topic: str, expected: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(m.value) for m in consume(topic, expected, timeout_s=15)]


def run(url_paths: list[str], srv: FixtureServer, kafka: str, topic: str, tmp: Path, **spec: object):  # type: ignore[no-untyped-def]
    connector = RssConnector.from_config({"feeds": [srv.url + p for p in url_paths], "timeout_s": 3,
                                          "max_attempts": 1, **spec})
    options = RunnerOptions(bootstrap=kafka, topic=topic, dlq_topic=topic + ".dlq", state_dir=tmp,
                            create_topics=False, checkpoint_interval_s=0.2)
    return run_connector(connector, options, once=True)


def test_oversize_item_is_dead_lettered_truncated_and_the_rest_goes_on(kafka_bootstrap: str, topic: str,
                                                                        consume, tmp_path: Path) -> None:
    with FixtureServer(HostileSite()) as srv:
        result = run(["/oversize.xml", "/healthy.xml"], srv, kafka_bootstrap, topic, tmp_path)
    posts = consume_json(consume, topic, 6)
    letters = consume_json(consume, topic + ".dlq", 1)
    assert sorted(p["text"] for p in posts) == sorted(["a normal item"] + [f"healthy item {i}" for i in range(5)])
    assert len(letters) == 1 and letters[0]["truncated"] is True
    assert letters[0]["original_size"] > 5 * 1024 * 1024
    kept = base64.b64decode(letters[0]["original_b64"])
    assert len(kept) < letters[0]["original_size"] and len(letters[0]["original_sha256"]) == 64
    assert result.total("posts") == 6 and result.total("invalid") == 1 and not result.errors
    assert len(list(tmp_path.rglob("*.json"))) == 2  # both streams saved their state


def test_posts_outside_the_created_at_window_are_dead_lettered(kafka_bootstrap: str, topic: str,
                                                               consume, tmp_path: Path) -> None:
    with FixtureServer(HostileSite()) as srv:
        result = run(["/old.xml", "/future.xml", "/healthy.xml"], srv, kafka_bootstrap, topic, tmp_path)
    posts = consume_json(consume, topic, 5)
    letters = consume_json(consume, topic + ".dlq", 121)
    assert len(posts) == 5 and len(letters) == 121  # produced + dead-lettered = every item
    assert all("created_at" in ltr["error"] for ltr in letters)
    assert result.total("invalid") == 121 and not result.errors


def test_redirect_loop_cross_origin_and_huge_fail_their_stream_only(kafka_bootstrap: str, topic: str,
                                                                   consume, tmp_path: Path) -> None:
    with FixtureServer(secret_site) as other, FixtureServer(HostileSite(other.url)) as srv:
        result = run(["/loop", "/elsewhere", "/huge.xml", "/healthy.xml"], srv,
                     kafka_bootstrap, topic, tmp_path, max_response_bytes=2_000_000)
    posts = consume_json(consume, topic, 5)
    assert sorted(p["text"] for p in posts) == sorted(f"healthy item {i}" for i in range(5))  # no "internal text"
    errors = " | ".join(result.errors)
    assert "redirects" in errors and "another origin" in errors and "max_response_bytes" in errors


def test_dribbling_feed_is_cut_at_the_total_timeout(kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    with FixtureServer(HostileSite()) as srv:
        started = time.monotonic()
        result = run(["/dribble.xml"], srv, kafka_bootstrap, topic, tmp_path)
        elapsed = time.monotonic() - started
    assert "in total" in " | ".join(result.errors)
    assert elapsed < 60  # timeout_s is 3 s; reading the whole feed a byte per 0.5 s takes ~6 minutes


def test_cross_origin_redirect_is_followed_when_allowed(kafka_bootstrap: str, topic: str, consume,
                                                         tmp_path: Path) -> None:
    with FixtureServer(secret_site) as other, FixtureServer(HostileSite(other.url)) as srv:
        host = other.url.split("//", 1)[1]
        result = run(["/elsewhere"], srv, kafka_bootstrap, topic, tmp_path, allowed_redirect_hosts=[host])
    assert [p["text"] for p in consume_json(consume, topic, 1)] == ["internal text"]
    assert not result.errors


def test_dedup_survives_more_ids_than_the_seen_window(kafka_bootstrap: str, topic: str, consume,
                                                      tmp_path: Path) -> None:
    """The seen-id window is bounded; the saved cursor remembers what is older than it."""
    items = [(f"n{i}", f"item {i}", NOW - timedelta(minutes=100 - i)) for i in range(60)]
    site = {"/many.xml": rss(items)}
    with FixtureServer(lambda r: Reply.text(site[r.path], content_type="application/rss+xml")) as srv:
        connector = RssConnector.from_config({"feeds": [srv.url + "/many.xml"], "timeout_s": 3})
        options = RunnerOptions(bootstrap=kafka_bootstrap, topic=topic, dlq_topic=None, state_dir=tmp_path,
                                create_topics=False, seen_capacity=10)
        first = run_connector(connector, options, once=True)
        second = run_connector(RssConnector.from_config({"feeds": [srv.url + "/many.xml"], "timeout_s": 3}),
                               options, once=True)
    assert first.total("posts") == 60 and second.total("posts") == 0 and second.total("duplicates") == 60
    assert len(consume_json(consume, topic, 60)) == 60


def test_dead_letter_of_every_size_fits_a_kafka_message() -> None:
    from pipeline.core.decode import MAX_DLQ_ORIGINAL_BYTES, dead_letter

    raw = b"y" * (13 * 1024 * 1024)
    letter = dead_letter(raw, b"k" * 5000, "t", 0, 7, ValueError("too big"))
    assert len(letter.model_dump_json()) < 1_000_000
    assert letter.truncated and letter.original_size == len(raw)
    assert letter.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert base64.b64decode(letter.original_b64) == raw[:MAX_DLQ_ORIGINAL_BYTES]


def test_streaming_lines_are_bounded() -> None:
    from connectors.base import SourceError
    from connectors.http import HttpClient, bounded_lines

    def site(req: Request) -> Chunks:
        if req.path == "/ok":
            return Chunks(iter([b"event: update\r\ndata: {\"a\"", b": 1}\n\n:thump\n"]))
        return Chunks(iter([b"data: " + b"x" * 65536] * 50))  # one 3 MB line, never ended

    with FixtureServer(site) as srv:
        for path in ("/ok", "/endless"):  # a client each: the fixture server closes a streamed connection
            http = HttpClient(srv.url, timeout_s=5)
            try:
                with http.stream("GET", path) as resp:
                    if path == "/ok":
                        assert list(bounded_lines(resp, 1000)) == ["event: update", 'data: {"a": 1}', "", ":thump"]
                    else:
                        with pytest.raises(SourceError, match="longer than"):
                            list(bounded_lines(resp, 1_000_000))
            finally:
                http.close()
