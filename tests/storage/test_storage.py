"""Storage on both backends: the same migrations and SQL, dedup of redelivered posts,
per-minute aggregates, and (server) reconnect after a restart."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from pipeline.core.schema import BrandMention, EnrichedPost, RawPost, Sentiment, TopicTag
from pipeline.storage.backend import ChdbBackend, ClickHouse, DriverBackend, StorageError
from pipeline.storage.migrate import discover, migrate
from pipeline.storage.repository import Repository

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)


def enriched(i: int, label: str = "negative", minute: int = 0, brands: tuple[str, ...] = ("acme",)) -> EnrichedPost:
    post = RawPost.model_validate({
        "id": str(i), "source": "test", "created_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "text": f"post {i} about acme's \"pricing\" % \\ '", "author": {"id": f"a{i % 3}", "handle": f"h{i % 3}"},
    })
    return EnrichedPost(
        post=post, sentiment=Sentiment(label=label, score=-0.5),
        brands=[BrandMention(brand_id=b, matched_text=b, start=0, end=4, rule="name", sentiment=label) for b in brands],
        topics=[TopicTag(topic_id="pricing", score=0.7)], kafka_partition=0, kafka_offset=i,
    )


@pytest.fixture(params=["chdb", pytest.param("server", marks=pytest.mark.chserver)])
def ch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    if request.param == "chdb":
        backend: ClickHouse = ChdbBackend(tmp_path / "chdb", "hypermicro")
    else:
        host, port = request.getfixturevalue("clickhouse_server")
        backend = DriverBackend(host, port, "hm_test_" + uuid.uuid4().hex[:8])
    migrate(backend)
    yield backend
    if request.param == "server":
        backend.execute(f"DROP DATABASE IF EXISTS {backend._database}")  # type: ignore[attr-defined]
    backend.close()


def test_migrations_are_numbered_and_reversible(ch: ClickHouse) -> None:
    migs = discover()
    assert [m.version for m in migs] == list(range(1, len(migs) + 1))
    assert all(m.backwards for m in migs)
    assert migrate(ch) == []  # idempotent
    migrate(ch, 3)
    tables = {r["name"] for r in ch.query("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert "posts" in tables and "alerts" not in tables
    migrate(ch)
    tables = {r["name"] for r in ch.query("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert {"posts", "alerts", "alert_acks", "mention_minute", "conversations", "emerging_voices"} <= tables


def test_a_column_another_process_already_added_does_not_fail_the_migration(ch: ClickHouse) -> None:
    migrate(ch, 9)  # before posts.repost_of_post
    ch.execute("ALTER TABLE posts ADD COLUMN repost_of_post String")  # a second worker got there first
    assert migrate(ch) == ["applied 0010_repost_of_post"]
    assert migrate(ch, 9) == ["rolled back 0010_repost_of_post"]
    assert migrate(ch) == ["applied 0010_repost_of_post"]


class _AnotherWorkerFirst:
    """A backend on which another worker runs the same ``ADD COLUMN`` just before ours (after our check)."""

    def __init__(self, inner: ClickHouse) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def execute(self, sql: str, params: Any = None) -> None:
        if " ADD COLUMN " in sql.upper():
            self.inner.execute(sql)  # the other worker got there between our check and our statement
        self.inner.execute(sql, params)


def test_a_column_added_by_another_process_during_the_migration_does_not_fail_it(ch: ClickHouse) -> None:
    migrate(ch, 9)
    racing = cast(ClickHouse, _AnotherWorkerFirst(ch))
    assert migrate(racing) == ["applied 0010_repost_of_post"]
    assert "repost_of_post" in {r["name"] for r in ch.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'posts'")}


def test_declared_posts_columns_match_live_schema(ch: ClickHouse) -> None:
    from pipeline.storage.posts_table import post_row

    live = {r["name"] for r in ch.query(
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'posts'")}
    assert set(post_row(enriched(1))) == live


def test_the_one_posts_column_list_is_the_live_table(ch: ClickHouse) -> None:
    from pipeline.storage.posts_table import POST_COLUMNS, columns, post_row

    live = [(r["name"], r["type"]) for r in ch.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'posts'")]
    assert list(POST_COLUMNS) == live  # names, types and order
    assert list(post_row(enriched(1))) == [name for name, _ in live]
    with pytest.raises(ValueError, match="not a posts column: colour"):
        columns("id", "colour")


def test_the_voice_tracker_reads_back_every_field_it_uses(ch: ClickHouse) -> None:
    from pipeline.detect.voice_events import events_from_post
    from pipeline.storage.posts_table import voice_post_of

    post = RawPost.model_validate({
        "id": "mastodon:9", "source": "mastodon", "created_at": T0.isoformat(), "text": "boost",
        "author": {"id": "a1", "handle": "ann", "followers": 1234},
        "reply_to_author": "b2", "reply_to_post": "mastodon:7", "repost_of_author": "c3",
        "repost_of_post": "mastodon:8", "quote_of_author": "d4", "mentions": ["@eve", "@fay"],
        "engagement": {"likes": 5, "reposts": 2, "replies": 1, "quotes": 1},
    })
    repo = Repository(ch)
    repo.insert_posts([EnrichedPost(post=post, sentiment=Sentiment(label="neutral"), kafka_partition=0, kafka_offset=1)])
    (row,) = repo.posts_since(0)
    back = voice_post_of(row)
    assert events_from_post(back) == events_from_post(post)  # the post refs a boost points at included
    assert (back.author.followers, back.engagement, back.source) == (1234, post.engagement, "mastodon")


def test_redelivered_posts_are_stored_once_and_counted_once(ch: ClickHouse) -> None:
    repo = Repository(ch)
    batch = [enriched(i, "negative" if i % 2 else "positive") for i in range(10)]
    repo.insert_posts(batch)
    repo.insert_posts(batch[:5])  # redelivery after a crash
    assert repo.count_posts() == 10
    counts = [m for m in repo.bucket_counts(T0 - timedelta(hours=1), T0 + timedelta(hours=1), 60) if m.subject == "acme"]
    assert [(m.total, m.negative) for m in counts] == [(10, 5)]
    text = ch.query("SELECT text FROM posts WHERE id = {id:String}", {"id": "test:3"})[0]["text"]
    assert text == "post 3 about acme's \"pricing\" % \\ '"


def test_aggregates_by_topic_and_brand_topic(ch: ClickHouse) -> None:
    repo = Repository(ch)
    repo.insert_posts([enriched(i, minute=i % 2, brands=("acme", "globex")) for i in range(6)])
    rows = repo.bucket_counts(T0 - timedelta(hours=1), T0 + timedelta(hours=1), 60,
                              kinds=("brand", "topic", "brand_topic", "all"))
    got = {(m.kind, m.subject, m.start.minute): m.total for m in rows}
    assert got[("brand", "globex", 0)] == 3
    assert got[("topic", "pricing", 1)] == 3
    assert got[("brand_topic", "acme|pricing", 0)] == 3
    assert got[("all", "*", 1)] == 3
    assert repo.latest_minute() == T0.replace(second=0) + timedelta(minutes=1)


def test_spike_evidence(ch: ClickHouse) -> None:
    repo = Repository(ch)
    repo.insert_posts([enriched(i, "negative" if i < 3 else "neutral") for i in range(4)])
    ev = repo.spike_evidence("acme", T0 - timedelta(minutes=1), T0 + timedelta(minutes=1))
    assert ev["negative_share"] == pytest.approx(0.75)
    assert len(ev["post_ids"]) == 3


def test_coarse_buckets_merge_minutes_without_double_counting(ch: ClickHouse) -> None:
    repo = Repository(ch)
    posts = [enriched(i, "negative" if i % 3 == 0 else "positive", minute=i % 7) for i in range(21)]
    repo.insert_posts(posts)
    repo.insert_posts(posts[:4])  # redelivered: still counted once
    start = T0.replace(minute=0, second=0)
    rows = repo.bucket_counts(start, start + timedelta(hours=1), 300)
    assert [(r.start, r.total, r.negative) for r in rows] == [(start, 15, 5), (start + timedelta(minutes=5), 6, 2)]
    with pytest.raises(ValueError):
        repo.bucket_counts(start, start + timedelta(hours=1), 90)  # not whole stored minutes


def test_detector_state_round_trips_newest_first(ch: ClickHouse) -> None:
    repo = Repository(ch)
    assert repo.load_detector_state("spikes") is None and repo.detector_position("spikes") is None
    repo.save_detector_state("spikes", T0, {"n": 1})
    repo.save_detector_state("spikes", T0 + timedelta(minutes=5), {"n": 2, "text": "é'\\"})
    repo.save_detector_state("other", T0 - timedelta(days=1), {"n": 3})
    fed, state = repo.load_detector_state("spikes")  # type: ignore[misc]
    assert fed == T0.replace(second=0) + timedelta(minutes=5, seconds=5) and state == {"n": 2, "text": "é'\\"}
    assert repo.detector_position("spikes") == fed


def test_low_watermark_ignores_outlier_dates(ch: ClickHouse) -> None:
    repo = Repository(ch)
    repo.insert_posts([enriched(i, minute=i) for i in range(10)])  # one partition, minutes 0..9
    newest = (T0 + timedelta(minutes=9)).replace(microsecond=0)
    assert repo.low_watermark() == newest - timedelta(minutes=2)  # the 3rd newest post's time
    ahead = [enriched(100 + i) for i in range(2)]
    for p in ahead:  # two posts far ahead of the stream (a replay of old data), not of the clock
        p.post.created_at = datetime.now(UTC) - timedelta(hours=1)
    repo.insert_posts(ahead)
    far_future = [enriched(200 + i) for i in range(5)]
    for p in far_future:  # many, but after the wall clock: never count
        p.post.created_at = datetime(2099, 1, 1, tzinfo=UTC)
    repo.insert_posts(far_future)
    assert repo.low_watermark() == newest  # never past the newest genuine post


@pytest.mark.chserver
def test_driver_reconnects_after_server_restart(clickhouse_server: tuple[str, int]) -> None:
    host, port = clickhouse_server
    ch = DriverBackend(host, port, "hm_restart_" + uuid.uuid4().hex[:6])
    migrate(ch)
    Repository(ch).insert_posts([enriched(1)])
    script = str(REPO / "deploy" / "local" / "clickhouse.sh")
    subprocess.run(["bash", script, "stop"], check=True)
    with pytest.raises(StorageError) as err:
        ch.query("SELECT 1 AS x")
    assert err.value.retryable
    subprocess.run(["bash", script, "start"], check=True)
    assert ch.query("SELECT count() AS n FROM posts")[0]["n"] == 1
    ch.execute(f"DROP DATABASE IF EXISTS {ch._database}")


def test_string_parameters_round_trip_exactly(ch: ClickHouse) -> None:
    nasty = "a\\b\tc\nd'e\"f%g{h:String}"
    row = ch.query("SELECT {s:String} AS s, {a:Array(String)} AS a", {"s": nasty, "a": [nasty, "x"]})[0]
    assert row["s"] == nasty and row["a"] == [nasty, "x"]
