"""Bluesky Jetstream connector against a local websocket server speaking Jetstream's format."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from connectors.sources.bluesky import JetstreamConnector
from connectors.testing import WebsocketFixture, contract_tests, run_once

FIXTURE = [json.loads(line) for line in
           (Path(__file__).parents[1] / "fixtures" / "connectors" / "jetstream_events.jsonl").read_text().splitlines()]
T0 = FIXTURE[0]["time_us"]


def events(n_extra: int = 6) -> list[dict]:
    out = [copy.deepcopy(e) for e in FIXTURE]
    for i in range(n_extra):
        e = copy.deepcopy(FIXTURE[0])
        e["time_us"] = T0 + (10 + i) * 1_000_000
        e["did"] = f"did:plc:user{i:020d}"
        e["commit"]["rkey"] = f"3l3qo4{i:07d}"
        e["commit"]["record"]["text"] = f"acme post number {i}" if i % 3 else f"unrelated post {i}"
        e["commit"]["record"]["createdAt"] = f"2024-09-09T19:46:{10 + i:02d}.000Z"
        out.append(e)
    return out


class Jetstream:
    """Replays its events from ``cursor`` (inclusive), filtered by wantedCollections, then idles.
    ``drop_after``: close the first connection abruptly after that many events.
    ``raw_before``: text frames sent first on the first connection (malformed events)."""

    def __init__(self, evs: list[dict] | None = None) -> None:
        self.events = evs if evs is not None else events()
        self.drop_after: int | None = None
        self.raw_before: list[str] = []
        self.shuffle_pairs = False
        self.lock = threading.Lock()

    def __call__(self, ws) -> None:  # noqa: ANN001
        q = parse_qs(urlsplit(ws.request.path).query)
        cursor = int(q["cursor"][0]) if "cursor" in q else None
        wanted = set(q.get("wantedCollections", []))
        with self.lock:
            raw, self.raw_before = self.raw_before, []
            drop, self.drop_after = self.drop_after, None
        for text in raw:
            ws.send(text)
        batch = [e for e in self.events if (cursor is None or e["time_us"] >= cursor)
                 and (not wanted or e.get("kind") != "commit" or e["commit"]["collection"] in wanted)]
        if self.shuffle_pairs:  # out of order delivery: swap neighbours, and send one twice
            for i in range(0, len(batch) - 1, 2):
                batch[i], batch[i + 1] = batch[i + 1], batch[i]
            batch.insert(2, batch[0])
        for i, e in enumerate(batch):
            if drop is not None and i >= drop:
                ws.socket.close()  # the connection drops mid-stream, no close frame
                return
            ws.send(json.dumps(e))
        for _ in ws:  # idle until the client goes away
            pass


@contextmanager
def jetstream_server(js: Jetstream | None = None) -> Iterator[WebsocketFixture]:
    with WebsocketFixture(js or Jetstream()) as srv:
        yield srv


def config(url: str) -> dict:
    return {"url": f"{url}/subscribe", "reconnect_backoff_s": 0.2}


TestJetstreamContract = contract_tests(JetstreamConnector, server=jetstream_server, config=config)


def _ids(sink) -> list[str]:  # noqa: ANN001
    return [p.id for p in sink.posts]


def test_posts_are_normalised_and_other_events_ignored(tmp_path: Path) -> None:
    with jetstream_server(Jetstream(events(0))) as srv:
        result, sink = run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path)
        assert "wantedCollections=app.bsky.feed.post" in srv.paths[0]
    assert result.total("invalid") == 0
    first, reply, quote = sink.posts
    assert first.id == "bluesky:at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3l3qo2vuowo2b"
    assert first.url == "https://bsky.app/profile/did:plc:eygmaihciaxprqvxpfvl6flk/post/3l3qo2vuowo2b"
    assert first.mentions == ["did:plc:acmeofficial00000000000"] and first.hashtags == ["acme"]
    assert first.lang == "en" and first.author.id == "did:plc:eygmaihciaxprqvxpfvl6flk"
    assert reply.reply_to_author == "did:plc:eygmaihciaxprqvxpfvl6flk"
    assert reply.reply_to_post == first.id and reply.links == ["https://acme.example/recall"]
    assert quote.quote_of_author == "did:plc:eygmaihciaxprqvxpfvl6flk"
    assert result.streams[0].cursor == FIXTURE[-1]["time_us"]


def test_keyword_filter(tmp_path: Path) -> None:
    with jetstream_server() as srv:
        _, sink = run_once(JetstreamConnector.from_config({**config(srv.url), "keywords": ["ACME post"]}), tmp_path)
    assert [p.text for p in sink.posts] == ["acme post number 1", "acme post number 2", "acme post number 4",
                                            "acme post number 5"]


def test_resume_passes_cursor_minus_rewind(tmp_path: Path) -> None:
    with jetstream_server() as srv:
        run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path)
        _, second = run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path)
        cursor = int(parse_qs(urlsplit(srv.paths[-1]).query)["cursor"][0])
    assert cursor == T0 + 15 * 1_000_000 - 5_000_000
    assert second.posts == []  # the replayed overlap was skipped as seen


def test_dropped_websocket_reconnects_from_cursor_without_loss_or_duplicates(tmp_path: Path) -> None:
    js = Jetstream()
    js.drop_after = 4
    with jetstream_server(js) as srv:
        result, sink = run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path, idle_exit_s=2.0)
        assert srv.connections == 2 and "cursor=" in srv.paths[1]
    with jetstream_server() as srv:
        _, reference = run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path / "ref")
    assert _ids(sink) == _ids(reference) and len(set(_ids(sink))) == len(_ids(sink))
    assert result.errors == []


def test_out_of_order_and_repeated_events_are_not_duplicated(tmp_path: Path) -> None:
    js = Jetstream()
    js.shuffle_pairs = True
    with jetstream_server(js) as srv:
        result, sink = run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path)
    assert len(_ids(sink)) == len(set(_ids(sink))) == 9
    assert result.total("duplicates") == 1
    assert result.streams[0].cursor == T0 + 15 * 1_000_000  # the max, although events came out of order


def test_malformed_events_are_dead_lettered_not_dropped(tmp_path: Path) -> None:
    js = Jetstream(events(0))
    js.raw_before = ['{"did": "did:plc:x", "time_us": 17259111', "not json at all"]
    with jetstream_server(js) as srv:
        result, sink = run_once(JetstreamConnector.from_config(config(srv.url)), tmp_path)
    assert len(sink.posts) == 3 and result.total("invalid") == 2
    letters = sink.dead_letters
    assert [d.stage for d in letters] == ["connector", "connector"]
    assert "malformed Jetstream event" in letters[0].error


def test_check_against_a_live_endpoint() -> None:
    with jetstream_server() as srv:
        JetstreamConnector.from_config(config(srv.url)).check()
