"""``hypermicro eval buzz``: the worker's bucket counting, the scorer, and the command end to end."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.core.schema import Author, BrandMention, EnrichedPost, RawPost, Sentiment
from pipeline.detect.buckets import BucketCounter
from pipeline.evaluation.buzz import BuzzAlert, Episode, command, load_truth, score_alerts

T0 = datetime(2014, 5, 6, tzinfo=UTC)  # years old: an evaluation replays history


def enriched(pid: str, at: datetime, post_label: str, brands: list[tuple[str, str | None]]) -> EnrichedPost:
    post = RawPost(id=pid, source="test", created_at=at, text="x", author=Author(id="a"))
    mentions = [BrandMention(brand_id=b, matched_text=b, start=0, end=1, rule="name", sentiment=s)
                for b, s in brands]
    return EnrichedPost(post=post, brands=mentions, sentiment=Sentiment(label=post_label))


# ---------------------------------------------------------------- counting as the worker stores it
def test_counts_are_brand_targeted_deduplicated_and_count_reposts() -> None:
    c = BucketCounter(60)
    m = T0 + timedelta(seconds=5)
    c.add([
        # brand-targeted: negative toward acme, positive toward globex
        enriched("t:1", m, "neutral", [("acme", "negative"), ("globex", "positive")]),
        # a redelivery of the same post: counted once
        enriched("t:1", m, "neutral", [("acme", "negative"), ("globex", "positive")]),
        # a repost is another post id: amplification counts
        enriched("t:2", m + timedelta(seconds=30), "negative", [("acme", None)]),
        # first mention of a brand decides its sentiment (as the posts row keeps one slot per brand)
        enriched("t:3", m, "negative", [("acme", "positive"), ("acme", "negative")]),
        # next minute
        enriched("t:4", T0 + timedelta(seconds=61), "negative", [("acme", "negative")]),
    ])
    got = [(b.brand, b.start, b.total, b.negative) for b in c.buckets()]
    assert got == [
        ("acme", T0, 3, 2),
        ("globex", T0, 1, 0),
        ("acme", T0 + timedelta(minutes=1), 1, 1),
    ]


def test_redelivery_that_came_out_negative_makes_the_post_negative() -> None:
    c = BucketCounter(60)
    c.add([enriched("t:1", T0, "neutral", [("acme", "neutral")]),
           enriched("t:1", T0, "negative", [("acme", "negative")])])
    assert [(b.total, b.negative) for b in c.buckets()] == [(1, 1)]


def test_coarser_buckets_are_unions_of_minutes() -> None:
    c = BucketCounter(300)
    c.add([enriched(f"t:{i}", T0 + timedelta(minutes=i), "negative", [("acme", None)]) for i in range(7)])
    assert [(b.start, b.total) for b in c.buckets()] == [(T0, 5), (T0 + timedelta(minutes=5), 2)]
    with pytest.raises(ValueError):
        BucketCounter(90)


# ---------------------------------------------------------------- scoring
def alert(brand: str, minutes: float) -> BuzzAlert:
    return BuzzAlert(brand, T0 + timedelta(minutes=minutes), "warning", 20, 2, 300)


def test_scorer_detection_window_delay_and_false_alerts() -> None:
    eps = [Episode("acme", T0 + timedelta(hours=10), T0 + timedelta(hours=12)),
           Episode("acme", T0 + timedelta(hours=30), T0 + timedelta(hours=31)),
           Episode("globex", T0 + timedelta(hours=10), T0 + timedelta(hours=11))]
    alerts = [
        alert("acme", 10 * 60 - 20),  # 20 min early: detects, delay 0
        alert("acme", 10 * 60 + 50),  # later alert of the same episode: not false
        alert("acme", 12 * 60 + 110),  # 1 h 50 after the end: not detecting, not false
        alert("acme", 30 * 60 - 31),  # 31 min early: does not detect, but within 2 h: not false
        alert("acme", 31 * 60 + 45),  # after the end: does not detect
        alert("globex", 10 * 60 + 59),  # 59 min late but before the end
        alert("globex", 14 * 60),  # 3 h after the end: false
        alert("acme", 20 * 60),  # far from every acme episode: false
        alert("other", 0),  # brand not scored
    ]
    sc = score_alerts(alerts, ["acme", "globex"], eps)
    assert (sc.episodes, sc.detected, sc.false_alerts, sc.alerts) == (3, 2, 2, 8)
    assert [d for _, d in sc.per_episode] == [0.0, None, 59.0]
    assert sc.recall == pytest.approx(2 / 3)
    assert sc.median_delay_min == pytest.approx(29.5)
    assert sc.line() == "episodes=3 detected=2 recall=0.667 median_delay_min=29.5 false_alerts=2 alerts=8"


def test_scorer_with_nothing_detected() -> None:
    sc = score_alerts([], ["acme"], [Episode("acme", T0, T0 + timedelta(hours=1))])
    assert sc.line() == "episodes=1 detected=0 recall=0.000 median_delay_min=nan false_alerts=0 alerts=0"


def test_truth_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "eps.json"
    bad.write_text(json.dumps({"brands": ["acme"], "episodes": [{"brand": "globex", "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T01:00:00Z"}]}))
    with pytest.raises(ValueError, match="globex"):
        load_truth(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid episodes file"):
        load_truth(bad)


# ---------------------------------------------------------------- the command on a generated stream
NEUTRAL = ["Reading about Acme this morning", "Anyone tried the new Acme app?", "Acme opens a store downtown"]
NEGATIVE = "Acme charged me twice, this is terrible and I hate it"


def write_fixture(tmp_path: Path) -> tuple[Path, Path, Path]:
    posts = []
    n = 0
    for minute in range(0, 12 * 60, 4):  # 12 h of ordinary talk, one post every 4 minutes
        n += 1
        posts.append({"id": f"p{n}", "source": "fixture", "created_at": (T0 + timedelta(minutes=minute)).isoformat(),
                      "text": NEUTRAL[n % 3], "author": {"id": f"u{n % 17}"}})
    for minute in range(30, 12 * 60, 60):  # one ordinary complaint an hour
        n += 1
        posts.append({"id": f"p{n}", "source": "fixture", "created_at": (T0 + timedelta(minutes=minute)).isoformat(),
                      "text": "Acme support is slow and annoying", "author": {"id": "grumpy"}})
    burst = T0 + timedelta(hours=9, minutes=20)
    for i in range(30):  # a burst: one complaint and its reposts within two minutes
        n += 1
        posts.append({"id": f"p{n}", "source": "fixture", "created_at": (burst + timedelta(seconds=4 * i)).isoformat(),
                      "text": NEGATIVE, "author": {"id": f"r{i}"}, "repost_of_post": "p0" if i else None})
    posts.sort(key=lambda p: p["id"])  # the file is not in time order: the eval sorts by created_at
    pfile = tmp_path / "posts.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p in posts) + "{broken\n")
    bfile = tmp_path / "brands.yaml"
    bfile.write_text("brands:\n  - id: acme\n    name: Acme\n")
    tfile = tmp_path / "episodes.json"
    tfile.write_text(json.dumps({"brands": ["acme"], "episodes": [
        {"brand": "acme", "start": (T0 + timedelta(hours=9)).isoformat(), "end": (T0 + timedelta(hours=10)).isoformat()}]}))
    return pfile, bfile, tfile


def test_eval_buzz_command_on_a_generated_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERMICRO_EMBEDDER", "hash")  # the worker's fast deterministic path
    monkeypatch.setenv("HYPERMICRO_SENTIMENT_MODEL", "vader")
    pfile, bfile, tfile = write_fixture(tmp_path)
    app = typer.Typer()
    app.command()(command)
    out = tmp_path / "out"
    args = ["--posts", str(pfile), "--brands", str(bfile), "--truth", str(tfile), "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert "invalid=1" in lines[0]
    assert lines[-1] == "episodes=1 detected=1 recall=1.000 median_delay_min=21.0 false_alerts=0 alerts=1"
    rows = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    assert set(rows[0]) == {"brand", "at", "severity", "observed", "expected", "window_s"}
    assert rows[0]["brand"] == "acme" and rows[0]["window_s"] == 300
    assert re.fullmatch(r"2014-05-06T09:2[01]:00Z", rows[0]["at"])
    assert rows[0]["observed"] >= 11
    again = CliRunner().invoke(app, args)  # deterministic
    assert again.output == res.output


def test_eval_buzz_rejects_truth_brands_missing_from_the_brands_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HYPERMICRO_EMBEDDER", "hash")
    monkeypatch.setenv("HYPERMICRO_SENTIMENT_MODEL", "vader")
    pfile, bfile, tfile = write_fixture(tmp_path)
    tfile.write_text(json.dumps({"brands": ["acme", "globex"], "episodes": []}))
    app = typer.Typer()
    app.command()(command)
    res = CliRunner().invoke(app, ["--posts", str(pfile), "--brands", str(bfile), "--truth", str(tfile)])
    assert res.exit_code == 2 and "globex" in res.output


@pytest.mark.parametrize("bucket_s", [60, 300])
def test_bucket_counts_equal_the_workers_stored_aggregates(tmp_path: Path, bucket_s: int) -> None:
    """The eval's counting and the worker's ClickHouse aggregates agree on the same posts."""
    from pipeline.storage.backend import ChdbBackend
    from pipeline.storage.migrate import migrate
    from pipeline.storage.repository import Repository

    posts = []
    for i in range(40):
        at = T0 + timedelta(seconds=37 * i)
        brands: list[tuple[str, str | None]] = [("acme", ["negative", "neutral", None][i % 3])]
        if i % 4 == 0:
            brands = [("globex", "positive"), *brands, ("acme", "positive")]
        posts.append(enriched(f"t:{i}", at, ["negative", "positive"][i % 2], brands))
    redelivered = [enriched("t:5", T0 + timedelta(seconds=37 * 5), "negative", [("acme", "negative")])]
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    try:
        migrate(ch)
        repo = Repository(ch)
        repo.insert_posts(posts)
        repo.insert_posts(posts[:10] + redelivered)  # at-least-once delivery
        rows = repo.bucket_counts(T0 - timedelta(hours=1), T0 + timedelta(hours=1), bucket_s)  # what the live detector reads
        stored = {(r.subject, r.start, r.total, r.negative) for r in rows}
    finally:
        ch.close()
    counter = BucketCounter(bucket_s)
    counter.add(posts + posts[:10] + redelivered)
    counted = {(b.brand, b.start, b.total, b.negative) for b in counter.buckets()}
    assert len(counted) > 3 and counted == stored
