"""Findings 1-3 of the hostile-input review against the real broker and a real worker: posts
from 150 different months, dates in 2100/9999/0001 and a 13 MB post, all in one partition,
never stop the worker, and every message is accounted for (stored + dead-lettered = produced)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from pipeline.evaluation.live_stack import start_worker, stop_worker
from pipeline.storage.backend import ChdbBackend
from tests.integration.harness import read_topic, wait_until
from tests.integration.test_resilience import drain, fast_env

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def post(pid: str, created_at: str, text: str = "Nimbus Air was awful today") -> bytes:
    return json.dumps({"id": pid, "source": "t", "created_at": created_at, "text": text,
                       "author": {"id": "a1", "handle": "someone"}}).encode()


def test_hostile_dates_and_sizes_never_stop_the_worker(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    raw_topic = f"{namespace}.social.posts.raw"
    now = datetime.now(UTC).replace(microsecond=0)
    # Horizon widened to ~40 years, as for a backfill: 150 months from 2000 are in bounds and stored.
    env = fast_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_POST_MAX_AGE_DAYS="15000")
    months = [post(f"m{i}", f"{2000 + i // 12}-{i % 12 + 1:02d}-15T12:00:00Z") for i in range(150)]
    recent = [post(f"r{i}", (now - timedelta(minutes=i)).isoformat()) for i in range(20)]
    bad = {
        **{f"f{i}": post(f"f{i}", "2100-01-01T00:00:00Z") for i in range(4)},
        "y9999": post("y9999", "9999-12-31T23:59:59Z"),
        "y0001": post("y0001", "0001-01-01T00:00:00+01:00"),
        "big": post("big", now.isoformat(), "x" * (13 * 1024 * 1024)),
    }
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=16 * 1024 * 1024, acks="all")
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        for i, value in enumerate(months[:75] + list(bad.values()) + months[75:] + recent):
            producer.send(raw_topic, key=f"k{i}".encode(), value=value, partition=0)
        producer.send(raw_topic, key=b"k" * 2_000_000, value=b"{not json", partition=0)  # a 2 MB key
        producer.flush(60)
        producer.close()
        drain(kafka_bootstrap, namespace, timeout=300)
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        letters = [json.loads(m.value) for m in read_topic(kafka_bootstrap, f"{namespace}.social.posts.dlq")]
    finally:
        stop_worker(proc)
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    try:
        stored = ch.query("SELECT count() AS n, uniqExact(toYYYYMM(created_at)) AS months FROM posts FINAL")[0]
        years = ch.query("SELECT min(toYear(created_at)) AS lo, max(toYear(created_at)) AS hi FROM posts")[0]
    finally:
        ch.close()
    assert stored["n"] + len(letters) == 150 + 20 + len(bad) + 1  # every message accounted for
    (junk,) = [d for d in letters if d["error_type"] == "invalid_json"]
    assert len(base64.b64decode(junk["key_b64"])) == 1024  # the key is kept as a prefix, the letter fits
    letters.remove(junk)
    assert stored["n"] == 170 and stored["months"] >= 150
    assert (years["lo"], years["hi"]) == (2000, now.year)  # nothing clamped to 1970 or 2106
    by_id = {json.loads(base64.b64decode(d["original_b64"]) or b"{}").get("id") if not d["truncated"] else "big": d
             for d in letters}
    assert set(by_id) == set(bad)
    assert all(by_id[k]["error_type"] == "out_of_bounds" for k in ("f0", "f1", "f2", "f3", "y9999"))
    assert by_id["y0001"]["error_type"] == "invalid_fields"
    big = by_id["big"]
    assert big["error_type"] == "too_large" and big["original_size"] == len(bad["big"])
    assert big["original_sha256"] == hashlib.sha256(bad["big"]).hexdigest()


def test_future_dated_posts_mid_replay_do_not_silence_the_planted_spike(kafka_bootstrap: str, namespace: str,
                                                                         tmp_path: Path) -> None:
    """Finding 2: four posts dated 2100 (one per partition) in the middle of a replay used to
    move the detector's clock so the planted spike raised no alert. They are now dead-lettered
    at the door and the spike alerts once."""
    from pipeline.core.kafka import PostProducer, ensure_topics
    from pipeline.evaluation.sample import SampleSpec, generate

    posts, truth = generate(SampleSpec(posts=2000, spike_posts=150))
    raw_topic = f"{namespace}.social.posts.raw"
    env = fast_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_DETECT_INTERVAL_S="2")
    ensure_topics(kafka_bootstrap, [raw_topic], 4)
    proc = start_worker(env, tmp_path / "worker.log")
    try:
        with PostProducer(kafka_bootstrap) as producer:
            for i, p in enumerate(posts):
                producer.send_raw(p["id"].encode(), json.dumps(p).encode(), topic=raw_topic)
                if i == len(posts) // 3:
                    for part in range(4):
                        future = {**p, "id": f"future{part}", "created_at": "2100-01-01T00:00:00Z"}
                        producer.kafka.send(raw_topic, key=b"f", value=json.dumps(future).encode(), partition=part)
            producer.flush(60)
        drain(kafka_bootstrap, namespace, timeout=300)
        wait_until(lambda: bool(read_topic(kafka_bootstrap, f"{namespace}.social.alerts", timeout_ms=1000)),
                   timeout=90, what="the spike alert")
        assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_worker(proc)
    alerts = [json.loads(m.value) for m in read_topic(kafka_bootstrap, f"{namespace}.social.alerts")]
    letters = [json.loads(m.value) for m in read_topic(kafka_bootstrap, f"{namespace}.social.posts.dlq")]
    assert [a["subject"]["id"] for a in alerts] == [truth["spike"]["brand"]]
    assert len(letters) == 4 and all(d["error_type"] == "out_of_bounds" for d in letters)
