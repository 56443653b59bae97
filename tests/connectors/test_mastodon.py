"""Mastodon connector: REST timelines (min_id paging) and the SSE streaming API, on a local server."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connectors.sources.mastodon import MastodonConnector
from connectors.testing import (
    Chunks,
    FixtureServer,
    Reply,
    Request,
    contract_tests,
    run_once,
    status,
)

STATUS = json.loads((Path(__file__).parents[1] / "fixtures" / "connectors" / "mastodon_status.json").read_text())
TOKEN = "mastodon-test-token"
BASE_ID = 112345678901234567


def make_status(n: int, tag: str = "acme") -> dict:
    s = copy.deepcopy(STATUS)
    s["id"] = str(BASE_ID + n)
    s["created_at"] = f"2024-05-01T12:{n // 60:02d}:{n % 60:02d}.000Z"
    s["url"] = f"https://mastodon.example/@alice/{s['id']}"
    s["content"] = f"<p>status {n} about #{tag}</p>"
    s["tags"] = [{"name": tag, "url": f"https://mastodon.example/tags/{tag}"}]
    s["account"] = {**s["account"], "id": str(109000000000000000 + n % 4), "acct": f"user{n % 4}"}
    if n % 3 == 0:
        s["in_reply_to_id"] = str(BASE_ID + n - 1)
        s["in_reply_to_account_id"] = str(109000000000000000 + (n - 1) % 4)
    if n % 5 == 0:
        original = copy.deepcopy(s)
        original["id"] = str(BASE_ID + 1000 + n)
        original["account"] = {**s["account"], "id": "109000000000000777", "acct": "bob@other.example"}
        s["reblog"] = original
    return s


class Instance:
    """A tiny Mastodon instance: statuses, REST timelines with min_id/max_id/limit, SSE streaming."""

    def __init__(self, n: int = 12) -> None:
        self.statuses = [make_status(i) for i in range(1, n + 1)]
        self.live: list[dict] = []  # published while a streaming client is connected
        self.drop_after: int | None = None  # streaming connection drops after this many events
        self.stream_connections = 0
        self.lock = threading.Lock()

    def publish(self, s: dict) -> None:
        with self.lock:
            self.statuses.append(s)
            self.live.append(s)

    def timeline(self, req: Request) -> list[dict]:
        limit = int(req.arg("limit") or 20)
        items = sorted(self.statuses, key=lambda s: int(s["id"]))
        if req.arg("min_id"):  # the statuses immediately newer than min_id, newest first
            items = [s for s in items if int(s["id"]) > int(req.arg("min_id"))][:limit]
            return sorted(items, key=lambda s: -int(s["id"]))
        if req.arg("since_id"):
            items = [s for s in items if int(s["id"]) > int(req.arg("since_id"))]
        return sorted(items, key=lambda s: -int(s["id"]))[:limit]

    def sse(self) -> Iterator[bytes]:
        with self.lock:
            self.stream_connections += 1
            self.live = []
        sent, started = 0, time.monotonic()
        yield b":)\n"
        while time.monotonic() - started < 30:
            with self.lock:
                pending, self.live = self.live, []
            for s in pending:
                yield b"event: update\ndata: " + json.dumps(s).encode() + b"\n\n"
                sent += 1
                if self.drop_after is not None and sent >= self.drop_after:
                    self.drop_after = None
                    raise ConnectionError("drop")  # the server cuts the stream mid-way
            yield b":thump\n"
            time.sleep(0.1)

    def __call__(self, req: Request) -> Reply | Chunks:
        auth = req.headers.get("authorization")
        if auth is not None and auth != f"Bearer {TOKEN}":
            return Reply.json({"error": "The access token is invalid"}, 401)
        if req.path == "/api/v1/instance":
            return Reply.json({"uri": "mastodon.example", "title": "Example", "version": "4.2.8"})
        if req.path == "/api/v1/apps/verify_credentials":
            return Reply.json({"name": "hypermicro"}) if auth else Reply.json({"error": "no token"}, 401)
        if req.path in ("/api/v1/timelines/public", "/api/v1/timelines/tag/acme"):
            return Reply.json(self.timeline(req))
        if req.path == "/api/v2/search":
            q = (req.arg("q") or "").lower()
            found = [s for s in self.timeline(req) if q in s["content"].lower()]
            return Reply.json({"accounts": [], "statuses": found, "hashtags": []})
        if req.path.startswith("/api/v1/streaming/"):
            if auth is None:
                return Reply.json({"error": "Missing access token"}, 401)
            return Chunks(self.sse(), {"Content-Type": "text/event-stream"})
        return status(404)


@contextmanager
def mastodon_server(instance: Instance | None = None) -> Iterator[FixtureServer]:
    with FixtureServer(instance or Instance()) as srv:
        yield srv


def rest_config(url: str) -> dict:
    return {"base_url": url, "access_token": TOKEN, "timelines": ["public", "hashtag:acme", "search:status 1"],
            "page_size": 5}


TestMastodonContract = contract_tests(MastodonConnector, server=mastodon_server, config=rest_config,
                                      bad_credentials={"access_token": "wrong-token-123"},
                                      fault_path="/api/v1/timelines/public")


def test_status_fields_are_normalised(tmp_path: Path) -> None:
    inst = Instance(0)
    inst.statuses = [STATUS, make_status(5)]
    with mastodon_server(inst) as srv:
        _, sink = run_once(MastodonConnector.from_config({"base_url": srv.url}), tmp_path)
    post, reblog = sink.posts
    assert post.id == "mastodon:112345678901234567"
    assert post.text == "My #Acme X1 battery is swelling. @acmesupport help?"
    assert post.author.handle == "alice" and post.author.followers == 321 and post.author.following == 123
    assert post.mentions == ["acmesupport"] and post.hashtags == ["acme"]
    assert post.links == ["https://status.acme.example/"] and post.lang == "en"
    assert (post.engagement.likes, post.engagement.reposts, post.engagement.replies) == (5, 1, 2)
    assert reblog.repost_of_author == "109000000000000777"
    assert reblog.repost_of_post == f"mastodon:{BASE_ID + 1005}"


def test_first_run_reads_newest_page_then_pages_forward_with_min_id(tmp_path: Path) -> None:
    inst = Instance(12)
    cfg = lambda url: {"base_url": url, "timelines": ["public"], "page_size": 5}  # noqa: E731
    with mastodon_server(inst) as srv:
        _, first = run_once(MastodonConnector.from_config(cfg(srv.url)), tmp_path)
        assert [int(p.native_id) - BASE_ID for p in first.posts] == [8, 9, 10, 11, 12]
        for n in range(13, 25):  # 12 new statuses: more than two pages
            inst.statuses.append(make_status(n))
        srv.requests.clear()
        _, second = run_once(MastodonConnector.from_config(cfg(srv.url)), tmp_path)
        min_ids = [r.arg("min_id") for r in srv.requests]
    assert [int(p.native_id) - BASE_ID for p in second.posts] == list(range(13, 25))
    assert min_ids[0] == str(BASE_ID + 12) and len(min_ids) == 3


def test_reply_fields(tmp_path: Path) -> None:
    inst = Instance(0)
    inst.statuses = [make_status(3)]
    with mastodon_server(inst) as srv:
        _, sink = run_once(MastodonConnector.from_config({"base_url": srv.url}), tmp_path)
    assert sink.posts[0].reply_to_post == f"mastodon:{BASE_ID + 2}"
    assert sink.posts[0].reply_to_author == "109000000000000002"


def _publish_later(inst: Instance, numbers: list[int], delay: float) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 5
        while inst.stream_connections == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
        for n in numbers:
            inst.publish(make_status(n))
            time.sleep(0.05)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_streaming_delivers_live_statuses(tmp_path: Path) -> None:
    inst = Instance(3)
    with mastodon_server(inst) as srv:
        t = _publish_later(inst, [4, 5, 6], 0.3)
        conn = MastodonConnector.from_config({"base_url": srv.url, "access_token": TOKEN, "streaming": True})
        result, sink = run_once(conn, tmp_path, idle_exit_s=2.0)
        t.join()
    assert [int(p.native_id) - BASE_ID for p in sink.posts] == [1, 2, 3, 4, 5, 6]
    assert result.errors == []


def test_streaming_drop_mid_stream_catches_up_without_loss_or_duplicates(tmp_path: Path) -> None:
    inst = Instance(2)
    inst.drop_after = 2  # the connection breaks after two events; the third is published meanwhile
    with mastodon_server(inst) as srv:
        t = _publish_later(inst, [3, 4, 5, 6, 7], 0.3)
        conn = MastodonConnector.from_config({"base_url": srv.url, "access_token": TOKEN, "streaming": True,
                                              "reconnect_backoff_s": 0.5})
        result, sink = run_once(conn, tmp_path, idle_exit_s=2.5)
        t.join()
    numbers = [int(p.native_id) - BASE_ID for p in sink.posts]
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6, 7]
    assert len(numbers) == len(set(numbers))
    assert inst.stream_connections >= 2 and result.errors == []


def test_streaming_without_token_fails_clearly(tmp_path: Path) -> None:
    with mastodon_server(Instance(1)) as srv:
        conn = MastodonConnector.from_config({"base_url": srv.url, "streaming": True})
        result, sink = run_once(conn, tmp_path)
    assert len(sink.posts) == 1  # the REST part still worked and was checkpointed
    assert result.errors and "token" in result.errors[0]
