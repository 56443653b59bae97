"""Finding 1 of the hostile-input review: a batch whose posts fall in hundreds of different
months must be written (it used to fail with ``Too many partitions for single INSERT block``
and crash-loop the sink). Runs on chDB and on the 18.16 server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.core.schema import BrandMention, EnrichedPost, RawPost, Sentiment
from pipeline.storage.backend import ChdbBackend, ClickHouse, DriverBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.posts_table import MONTHS_PER_INSERT, month_groups
from pipeline.storage.repository import Repository


def post_in_month(i: int) -> EnrichedPost:
    """Post ``i`` dated in month ``i`` counted from January 1990 (so 300 posts span 25 years)."""
    year, month = 1990 + i // 12, i % 12 + 1
    raw = RawPost.model_validate({"id": f"m{i}", "source": "test", "created_at": datetime(year, month, 15, tzinfo=UTC),
                                  "text": f"acme post {i}", "author": {"id": "a"}})
    return EnrichedPost(post=raw, sentiment=Sentiment(label="negative", score=-0.5),
                        brands=[BrandMention(brand_id="acme", matched_text="acme", start=0, end=4, rule="name")],
                        kafka_partition=0, kafka_offset=i)


@pytest.fixture(params=["chdb", pytest.param("server", marks=pytest.mark.chserver)])
def ch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ClickHouse]:
    if request.param == "chdb":
        backend: ClickHouse = ChdbBackend(tmp_path / "chdb", "hypermicro")
    else:
        host, port = request.getfixturevalue("clickhouse_server")
        # Dropping 900 parts takes a while on a busy 18.16 server: a generous socket timeout.
        backend = DriverBackend(host, port, "hm_test_" + uuid.uuid4().hex[:8], send_receive_timeout=300)
    migrate(backend)
    yield backend
    if request.param == "server":
        backend.execute(f"DROP DATABASE IF EXISTS {backend._database}")  # type: ignore[attr-defined]
    backend.close()


def test_one_batch_spanning_300_months_is_stored_and_counted(ch: ClickHouse) -> None:
    posts = [post_in_month(i) for i in range(300)]
    assert Repository(ch).insert_posts(posts) == 300
    row = ch.query("SELECT count() AS n, uniqExact(toYYYYMM(created_at)) AS months FROM posts FINAL")[0]
    assert (row["n"], row["months"]) == (300, 300)
    minutes = ch.query("SELECT count() AS n FROM (SELECT minute FROM mention_minute "
                       "WHERE kind = 'brand' AND subject = 'acme' GROUP BY minute)")[0]
    assert minutes["n"] == 300  # every post also reached the per-minute counts the detector reads


def test_month_groups_bound_partitions_and_keep_every_post() -> None:
    posts = [post_in_month(i % 130) for i in range(400)]
    groups = month_groups(posts)
    assert sum(len(g) for g in groups) == 400
    assert all(len({(p.post.created_at.year, p.post.created_at.month) for p in g}) <= MONTHS_PER_INSERT
               for g in groups)
    assert len(groups) == 3
