"""File replay: parsing (unit) and replay into the real local Kafka (integration)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from connectors.file_replay import csv_row_to_record, iter_records, parse_record, replay_file
from pipeline.core.kafka import PostProducer
from pipeline.core.schema import DeadLetter, RawPost

FIXTURES = Path(__file__).parents[1] / "fixtures" / "connectors"


def _post(i: int, ts: str = "2024-05-01T12:00:00Z", **extra: object) -> dict:
    return {"id": str(i), "source": "test", "created_at": ts, "text": f"post {i}",
            "author": {"id": f"a{i % 7}", "handle": f"h{i % 7}", "followers": i}, **extra}


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------- unit: parsing
def test_jsonl_records_keep_line_numbers_and_reject_bad_lines() -> None:
    results = {}
    for lineno, _raw, rec in iter_records(FIXTURES / "posts_sample.jsonl"):
        try:
            results[lineno] = parse_record(rec).id
        except ValueError:
            results[lineno] = None
    # line 4 is blank; 5 lacks text; 6 is truncated JSON
    assert results == {1: "mastodon:1001", 2: "mastodon:1002",
                       3: "bluesky:at://did:plc:abc/app.bsky.feed.post/3k1",
                       5: None, 6: None, 7: "reddit:1005"}


def test_csv_columns_map_to_the_interchange_form() -> None:
    rows = list(iter_records(FIXTURES / "posts_sample.csv"))
    assert [r[0] for r in rows] == [2, 3, 4, 5]  # first physical line of each row
    first = parse_record(rows[0][2])
    assert first.id == "mastodon:2001"
    assert first.author.handle == "alice" and first.author.followers == 120
    assert first.mentions == ["bob", "carol"] and first.hashtags == ["acme"]
    assert (first.engagement.likes, first.engagement.reposts) == (3, 1)
    second = parse_record(rows[1][2])
    assert second.reply_to_author == "42" and second.text == '@alice same "problem" here'
    with pytest.raises(ValueError):
        parse_record(rows[2][2])  # empty text, negative followers
    multi = parse_record(rows[3][2])
    assert multi.text == "multi\nline text" and multi.mentions == ["alice", "bob"]
    assert json.loads(rows[2][1])["id"] == "2003"  # original row kept for the DLQ


def test_csv_mapping_accepts_engagement_prefix_and_skips_empty_cells() -> None:
    rec = csv_row_to_record({"id": "9", "source": "s", "created_at": "2024-01-01T00:00:00Z",
                             "text": "t", "author_id": "1", "engagement_likes": "5", "lang": "",
                             "links": "https://a.example https://b.example"})
    assert rec["engagement"] == {"likes": "5"} and "lang" not in rec
    post = RawPost.model_validate(rec)
    assert post.engagement.likes == 5 and post.links == ["https://a.example", "https://b.example"]


def test_source_fills_missing_source(tmp_path: Path) -> None:
    row = _post(1)
    del row["source"]
    f = _write_jsonl(tmp_path / "p.jsonl", [row])
    (_, _, rec), = list(iter_records(f))
    with pytest.raises(ValueError):
        parse_record(rec)
    assert parse_record(rec, source="forum").id == "forum:1"


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "posts.txt"
    f.write_text("{}\n")
    with pytest.raises(ValueError, match="unknown file type"):
        list(iter_records(f))


# ---------------------------------------------------------------- integration: real Kafka
@pytest.mark.kafka
def test_replay_sends_valid_posts_and_dead_letters_invalid_ones(
    consume, kafka_bootstrap: str, topic: str, producer: PostProducer
) -> None:
    stats = replay_file(FIXTURES / "posts_sample.jsonl", producer, topic, progress=False,
                        dlq_topic=topic + ".dlq")
    assert (stats.sent, stats.invalid, stats.dead_lettered, stats.records) == (4, 2, 2, 6)
    assert [line for line, _ in stats.errors] == [5, 6]
    assert "text" in stats.errors[0][1]

    msgs = consume(topic, 4)
    assert [m.key for m in msgs] == [b"mastodon:1001", b"mastodon:1002",
                                     b"bluesky:at://did:plc:abc/app.bsky.feed.post/3k1", b"reddit:1005"]
    posts = [RawPost.model_validate_json(m.value) for m in msgs]
    assert posts[1].reply_to_author == "42" and posts[1].mentions == ["alice"]
    assert posts[3].author.handle == "carol" and posts[3].engagement.replies == 4

    dead = [DeadLetter.model_validate_json(m.value) for m in consume(topic + ".dlq", 2)]
    assert [(d.offset, d.stage) for d in dead] == [(5, "connector"), (6, "connector")]
    assert base64.b64decode(dead[1].original_b64).startswith(b'{"id": "1004"')
    assert dead[0].topic.startswith("file:") and dead[0].error_type == "ValidationError"


@pytest.mark.kafka
def test_replay_csv_and_limit(consume, kafka_bootstrap: str, topic: str, producer: PostProducer) -> None:
    stats = replay_file(FIXTURES / "posts_sample.csv", producer, topic, progress=False, limit=3)
    assert (stats.records, stats.sent, stats.invalid, stats.dead_lettered) == (3, 2, 1, 0)
    msgs = consume(topic, 2)
    assert [m.key for m in msgs] == [b"mastodon:2001", b"mastodon:2002"]


@pytest.mark.kafka
def test_time_warp_follows_created_at_gaps(consume, kafka_bootstrap: str, topic: str, producer: PostProducer,
                                           tmp_path: Path) -> None:
    rows = [_post(0, "2024-05-01T12:00:00Z"), _post(1, "2024-05-01T12:00:04Z"),
            _post(2, "2024-05-01T12:00:02Z"),  # out of order: sent at once
            _post(3, "2024-05-01T12:00:08Z")]
    f = _write_jsonl(tmp_path / "warp.jsonl", rows)
    started = time.monotonic()
    stats = replay_file(f, producer, topic, speed=10.0, progress=False)
    elapsed = time.monotonic() - started
    assert stats.sent == 4
    assert 0.75 <= elapsed < 2.0  # 8 s of source time at 10x
    started = time.monotonic()
    replay_file(f, producer, topic, speed=0.0, progress=False)
    assert time.monotonic() - started < 0.5
    assert len(consume(topic, 8)) == 8


@pytest.mark.kafka
def test_replay_command_and_file_connector_config(consume, kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    import typer

    from connectors.cli import connect_command, replay_command

    app = typer.Typer()
    app.command("replay")(replay_command)
    app.command("connect")(connect_command)
    rows = [_post(i, f"2024-05-01T12:00:{i:02d}Z") for i in range(30)] + ['{"not": "a post"}']
    f = _write_jsonl(tmp_path / "cli.jsonl", rows)
    runner = CliRunner()
    res = runner.invoke(app, ["replay", str(f), "--bootstrap", kafka_bootstrap, "--topic", topic,
                              "--dlq-topic", topic + ".dlq", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-1].startswith("sent=30 invalid=1 dead_lettered=1")
    assert "invalid line 31" in res.output

    cfg = tmp_path / "file.yaml"
    cfg.write_text(f"path: cli.jsonl\nspeed: 0\ntopic: {topic}\nbootstrap: {kafka_bootstrap}\n"
                   f"dlq_topic: {topic}.dlq\nprogress: false\nlimit: 10\n")
    res = runner.invoke(app, ["connect", "file", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "sent=10 invalid=0" in res.output
    keys = [m.key for m in consume(topic, 40)]
    assert len(keys) == 40 and len(set(keys)) == 30  # the same ids again: idempotent keys
    assert len(consume(topic + ".dlq", 1)) == 1

    res = runner.invoke(app, ["replay", str(f), "--bootstrap", kafka_bootstrap, "--topic", topic,
                              "--no-dlq", "--no-progress", "--strict", "--no-create-topics"])
    assert res.exit_code == 1


@pytest.mark.kafka
def test_gzip_input(consume, kafka_bootstrap: str, topic: str, producer: PostProducer, tmp_path: Path) -> None:
    import gzip

    f = tmp_path / "p.jsonl.gz"
    with gzip.open(f, "wb") as fh:
        fh.write(b"".join(orjson.dumps(_post(i)) + b"\n" for i in range(5)))
    assert replay_file(f, producer, topic, progress=False).sent == 5
