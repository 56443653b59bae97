"""End to end against the real local Kafka: file -> Kafka -> Faust worker -> chDB, with the
real default taggers; the planted spike raises exactly one alert, on ``social.alerts`` and at
a local webhook; poison messages land in the DLQ with their original bytes."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path

import pytest

from connectors.file_replay import replay_file
from pipeline.core.kafka import PostProducer
from pipeline.evaluation.live_stack import WebhookReceiver, start_worker, stop_worker
from pipeline.evaluation.sample import SampleSpec, write_sample
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.repository import Repository
from tests.integration.harness import REPO, lag, read_topic, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def worker_env(namespace: str, tmp: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        "HYPERMICRO_KAFKA_BOOTSTRAP": bootstrap,
        "HYPERMICRO_TOPIC_NAMESPACE": namespace,
        "HYPERMICRO_CLICKHOUSE_BACKEND": "chdb",
        "HYPERMICRO_CHDB_PATH": str(tmp / "chdb"),
        "HYPERMICRO_WORKER_DATA_DIR": str(tmp / "worker"),
        "HYPERMICRO_MODEL_CACHE_DIR": str(REPO / ".data" / "models"),
        "HYPERMICRO_WEB_PORT": "0",
        "HYPERMICRO_DETECT_INTERVAL_S": "2",
        "HYPERMICRO_BATCH_WITHIN_S": "0.5",
        **extra,
    }


def test_sample_flows_end_to_end_and_the_spike_alerts_once(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    sample = tmp_path / "sample.jsonl"
    truth = write_sample(sample, SampleSpec(posts=2000, spike_posts=150))
    group = f"{namespace}.hypermicro-worker"
    with WebhookReceiver() as hook:
        env = worker_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_WEBHOOK_URL=hook.url,
                         HYPERMICRO_WEBHOOK_SECRET="s3cret")
        proc = start_worker(env, tmp_path / "worker.log")
        try:
            with PostProducer(kafka_bootstrap) as producer:
                stats = replay_file(sample, producer, f"{namespace}.social.posts.raw", progress=False)
            assert stats.sent == 2000
            wait_until(lambda: lag(kafka_bootstrap, group, [f"{namespace}.social.posts.raw",
                                                            f"{namespace}.social.posts.enriched"]) == 0,
                       timeout=300, what="worker to process every post")
            wait_until(lambda: len(hook.received) >= 1, timeout=60, what="an alert at the webhook")
            time.sleep(10)  # any second alert would arrive within a few detector ticks
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        finally:
            stop_worker(proc)
        alerts = [json.loads(m.value) for m in read_topic(kafka_bootstrap, f"{namespace}.social.alerts")]
        assert len(alerts) == 1, alerts
        alert = alerts[0]
        assert alert["kind"] == "negative_spike" and alert["subject"]["id"] == truth["spike"]["brand"]
        assert truth["spike"]["start"][:16] < alert["window"]["end"][:16] <= truth["spike"]["end"][:16]
        assert alert["evidence"]["post_ids"], "alert carries evidence"
        assert len(hook.received) == 1 and hook.received[0]["json"]["id"] == alert["id"]
        assert hook.received[0]["headers"].get("X-Hypermicro-Signature", "").startswith("sha256=")

    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    try:
        repo = Repository(ch)
        assert repo.count_posts() == 2000
        tagged = ch.query("""
            SELECT countIf(length(brands) > 0) AS branded, countIf(sentiment_label != '') AS scored,
                   countIf(length(topics) > 0) AS topical, countIf(language = 'en') AS english,
                   countIf(has(brands, 'nimbus') AND sentiment_label = 'negative') AS nimbus_negative
            FROM posts FINAL""")[0]
        assert tagged["scored"] == 2000 and tagged["english"] > 1800
        assert tagged["branded"] > 1500 and tagged["topical"] > 200
        assert tagged["nimbus_negative"] >= 150  # the planted spike is recognised as negative
        stored = ch.query("SELECT count() AS n FROM alerts FINAL")[0]["n"]
        assert stored == 1
    finally:
        ch.close()


POISON = [
    b"{not json",
    b"\xff\xfe\x00garbage",
    json.dumps({"id": "x1", "source": "t"}).encode(),  # missing required fields
    json.dumps({"id": "x2", "source": "t", "created_at": "yesterday", "text": 5, "author": "bob"}).encode(),
    json.dumps({"id": "x3", "source": "t", "created_at": "2026-01-01T00:00:00Z", "text": "a" * 5_000_000,
                "author": {"id": "a"}}).encode(),
    b"{}",
]


def test_poison_messages_go_to_the_dlq_and_good_ones_flow(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    env = worker_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_EMBEDDER="hash",
                     HYPERMICRO_SENTIMENT_MODEL="vader")
    raw_topic = f"{namespace}.social.posts.raw"
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        with PostProducer(kafka_bootstrap, max_request_size=8 * 1024 * 1024) as producer:
            for i in range(40):
                if i % 6 == 0:
                    producer.send_raw(f"bad{i}".encode(), POISON[(i // 6) % len(POISON)], topic=raw_topic)
                good = {"id": f"g{i}", "source": "t", "created_at": "2026-01-01T00:00:00Z",
                        "text": f"good post {i}", "author": {"id": "a"}}
                producer.send_raw(f"g{i}".encode(), json.dumps(good).encode(), topic=raw_topic)
        group = f"{namespace}.hypermicro-worker"
        wait_until(lambda: lag(kafka_bootstrap, group, [raw_topic, f"{namespace}.social.posts.enriched"]) == 0,
                   timeout=180, what="worker to drain the topic")
        assert proc.poll() is None
    finally:
        stop_worker(proc)
    letters = [json.loads(m.value) for m in read_topic(kafka_bootstrap, f"{namespace}.social.posts.dlq")]
    assert len(letters) == 7
    by_hash = {hashlib.sha256(p).hexdigest(): p for p in POISON}
    originals = {by_hash[x["original_sha256"]] for x in letters}
    assert originals == set(POISON)
    for x in letters:  # whole originals, or (over 256 kB) a prefix that says so, with size and hash
        kept, full = base64.b64decode(x["original_b64"]), by_hash[x["original_sha256"]]
        assert (kept == full) if not x["truncated"] else (full.startswith(kept) and x["original_size"] == len(full))
    assert sum(x["truncated"] for x in letters) == 1  # the 5 MB post
    assert all(x["error"] and x["topic"] == raw_topic and x["offset"] >= 0 for x in letters)
    assert {x["error_type"] for x in letters} >= {"invalid_json", "invalid_utf8", "missing_fields", "too_large"}
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    try:
        assert Repository(ch).count_posts() == 40
    finally:
        ch.close()


def test_dlq_cap_stops_a_worker_fed_mostly_garbage(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    env = worker_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_EMBEDDER="hash",
                     HYPERMICRO_SENTIMENT_MODEL="vader", HYPERMICRO_DLQ_MAX_CONSECUTIVE="25")
    raw_topic = f"{namespace}.social.posts.raw"
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        with PostProducer(kafka_bootstrap) as producer:
            for i in range(100):
                producer.send_raw(None, b"garbage %d" % i, topic=raw_topic)
        wait_until(lambda: proc.poll() is not None, timeout=120, what="the worker to stop itself")
    finally:
        stop_worker(proc)
    assert proc.returncode != 0
    assert "DLQ limit exceeded" in (tmp_path / "worker.log").read_text()
