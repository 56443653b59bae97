"""Crash safety, outages and scale-out against the real broker and ClickHouse: every produced
post ends up stored exactly once (after dedup), none lost."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from pipeline.core.kafka import PostProducer
from pipeline.evaluation.live_stack import start_worker, stop_worker
from pipeline.storage.backend import ChdbBackend, DriverBackend
from tests.integration.harness import REPO, lag, wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def fast_env(namespace: str, tmp: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        "HYPERMICRO_KAFKA_BOOTSTRAP": bootstrap,
        "HYPERMICRO_TOPIC_NAMESPACE": namespace,
        "HYPERMICRO_CHDB_PATH": str(tmp / "chdb"),
        "HYPERMICRO_WORKER_DATA_DIR": str(tmp / "worker"),
        "HYPERMICRO_WEB_PORT": "0",
        "HYPERMICRO_EMBEDDER": "hash",
        "HYPERMICRO_SENTIMENT_MODEL": "vader",
        "HYPERMICRO_BATCH_MAX": "100",
        "HYPERMICRO_BATCH_WITHIN_S": "0.3",
        "HYPERMICRO_SINK_RETRY_MAX_S": "4",
        **extra,
    }


class SlowProducer(threading.Thread):
    """Produces ``n`` posts at about ``rate`` per second in the background."""

    def __init__(self, bootstrap: str, topic: str, n: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.n, self.rate = bootstrap, topic, n, rate
        self.error: BaseException | None = None
        self.ids = [f"p{i}" for i in range(n)]

    def run(self) -> None:
        try:
            with PostProducer(self.bootstrap, linger_ms=5) as producer:
                start = time.monotonic()
                for i, pid in enumerate(self.ids):
                    body = {"id": pid, "source": "t", "created_at": f"2026-02-01T10:{i // 600 % 60:02d}:{i // 10 % 60:02d}Z",
                            "text": f"Nimbus Air post {i} was {'awful' if i % 3 else 'great'}",
                            "author": {"id": f"a{i % 50}", "handle": f"user{i % 50}"}}
                    producer.send_raw(pid.encode(), json.dumps(body).encode(), topic=self.topic)
                    ahead = (i + 1) / self.rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
                producer.flush(120)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


def drain(bootstrap: str, namespace: str, timeout: float = 240) -> None:
    topics = [f"{namespace}.social.posts.raw", f"{namespace}.social.posts.enriched"]
    wait_until(lambda: lag(bootstrap, f"{namespace}.hypermicro-worker", topics) == 0,
               timeout=timeout, what="consumer lag to reach zero")


def assert_exactly_once(ch, n: int) -> None:  # type: ignore[no-untyped-def]
    row = ch.query("SELECT count() AS stored, uniqExact(id) AS distinct_ids FROM posts FINAL")[0]
    assert (row["stored"], row["distinct_ids"]) == (n, n)


def test_kill_9_three_times_loses_nothing(kafka_bootstrap: str, namespace: str, tmp_path: Path) -> None:
    n = 6000
    env = fast_env(namespace, tmp_path, kafka_bootstrap)
    producer = SlowProducer(kafka_bootstrap, f"{namespace}.social.posts.raw", n, rate=300)
    log = tmp_path / "worker.log"
    proc = start_worker(env, log)
    producer.start()
    rng = random.Random(42)
    kills = 0
    for _ in range(3):
        time.sleep(rng.uniform(3, 6))
        stop_worker(proc, signal.SIGKILL)
        kills += 1
        proc = start_worker(env, log)
    producer.join(120)
    assert producer.error is None and kills == 3
    try:
        drain(kafka_bootstrap, namespace)
    finally:
        stop_worker(proc)
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    try:
        assert_exactly_once(ch, n)
    finally:
        ch.close()


def _script(name: str, action: str) -> None:
    subprocess.run(["bash", str(REPO / "deploy" / "local" / name), action], check=True)


@pytest.mark.chserver
def test_clickhouse_outage_and_broker_restart(kafka_bootstrap: str, clickhouse_server: tuple[str, int],
                                              namespace: str, tmp_path: Path) -> None:
    host, port = clickhouse_server
    db = "hm_outage_" + uuid.uuid4().hex[:6]
    env = fast_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_CLICKHOUSE_BACKEND="server",
                   HYPERMICRO_CLICKHOUSE_HOST=host, HYPERMICRO_CLICKHOUSE_PORT=str(port),
                   HYPERMICRO_CLICKHOUSE_DATABASE=db)
    n = 4000
    producer = SlowProducer(kafka_bootstrap, f"{namespace}.social.posts.raw", n, rate=40)
    proc = start_worker(env, tmp_path / "worker.log")
    ch = DriverBackend(host, port, db)
    try:
        producer.start()
        wait_until(lambda: _count(ch) > 0, timeout=180, what="first posts stored")  # worker is live
        _script("clickhouse.sh", "stop")
        time.sleep(60)  # the server is down for a minute while posts keep arriving
        assert proc.poll() is None, "worker must back off, not die"
        _script("clickhouse.sh", "start")
        time.sleep(5)
        _script("kafka.sh", "restart")  # and the broker restarts mid-stream
        producer.join(240)
        assert producer.error is None
        drain(kafka_bootstrap, namespace, timeout=300)
        assert proc.poll() is None
        assert_exactly_once(ch, n)
        log = (tmp_path / "worker.log").read_text()
        assert "retrying" in log  # it backed off visibly
    finally:
        stop_worker(proc)
        _script("clickhouse.sh", "start")
        ch.execute(f"DROP DATABASE IF EXISTS {db}")
        ch.close()


def _count(ch) -> int:  # type: ignore[no-untyped-def]
    try:
        return int(ch.query("SELECT count() AS n FROM posts")[0]["n"])
    except Exception:  # noqa: BLE001 - table may not exist yet
        return 0


@pytest.mark.chserver
def test_two_workers_share_partitions_and_hand_over(kafka_bootstrap: str, clickhouse_server: tuple[str, int],
                                                   namespace: str, tmp_path: Path) -> None:
    host, port = clickhouse_server
    db = "hm_scale_" + uuid.uuid4().hex[:6]
    base = fast_env(namespace, tmp_path, kafka_bootstrap, HYPERMICRO_CLICKHOUSE_BACKEND="server",
                    HYPERMICRO_CLICKHOUSE_HOST=host, HYPERMICRO_CLICKHOUSE_PORT=str(port),
                    HYPERMICRO_CLICKHOUSE_DATABASE=db)
    w1 = start_worker({**base, "HYPERMICRO_WORKER_DATA_DIR": str(tmp_path / "w1")}, tmp_path / "w1.log")
    w2 = start_worker({**base, "HYPERMICRO_WORKER_DATA_DIR": str(tmp_path / "w2")}, tmp_path / "w2.log")
    n = 5000
    producer = SlowProducer(kafka_bootstrap, f"{namespace}.social.posts.raw", n, rate=250)
    ch = DriverBackend(host, port, db)
    try:
        producer.start()
        wait_until(lambda: _count(ch) > 1000, timeout=120, what="both workers storing")
        stop_worker(w1)  # graceful stop mid-stream: its partitions move to w2
        producer.join(120)
        assert producer.error is None
        drain(kafka_bootstrap, namespace)
        assert w2.poll() is None
        assert_exactly_once(ch, n)
        parts = ch.query("SELECT _partition AS p, count() AS n FROM posts GROUP BY p")
        assert len(parts) >= 2
    finally:
        stop_worker(w1)
        stop_worker(w2)
        ch.execute(f"DROP DATABASE IF EXISTS {db}")
        ch.close()
