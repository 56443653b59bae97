"""The no-Docker local stack (deploy/local/*.sh): real Kafka and clickhouse-server round trips.

The shared instances (127.0.0.1:9092 and :9000) are started if needed and never stopped here;
the stop/restart life cycle is exercised on private instances with their own ports and data dir.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local"


def run(script: str, action: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(LOCAL / script), action], cwd=REPO, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def pid_of(var: Path, name: str) -> int:
    return int((var / name / f"{name}.pid").read_text().strip())




# --------------------------------------------------------------------------- Kafka (shared)


@pytest.mark.kafka
def test_kafka_start_is_idempotent_and_status_reports_ready(kafka_bootstrap: str) -> None:
    first = run("kafka.sh", "start")
    assert first.returncode == 0, first.stderr
    second = run("kafka.sh", "start")
    assert second.returncode == 0, second.stderr
    status = run("kafka.sh", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "9092" in status.stdout
    assert run("kafka.sh", "wait").returncode == 0


@pytest.mark.kafka
def test_kafka_python_round_trip(kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"test.deploy.kp.{uuid.uuid4().hex[:12]}"
    payloads = [f"kafka-python {i}".encode() for i in range(5)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for i, p in enumerate(payloads):
            producer.send(topic, key=str(i).encode(), value=p).get(timeout=30)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest",
        consumer_timeout_ms=20_000,
    )
    got: list[bytes] = []
    try:
        for msg in consumer:
            got.append(msg.value)
            if len(got) == len(payloads):
                break
    finally:
        consumer.close()
    assert sorted(got) == sorted(payloads)
    # auto-created with the broker's default of 4 partitions
    probe = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert len(probe.partitions_for_topic(topic) or ()) == 4
    finally:
        probe.close()


@pytest.mark.kafka
async def test_aiokafka_round_trip(kafka_bootstrap: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = f"test.deploy.aio.{uuid.uuid4().hex[:12]}"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"aiokafka {i}".encode(), key=str(i).encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, group_id=f"g-{topic}", auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < 5:
                msg = await consumer.getone()
                got.append(msg.value)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert sorted(got) == [f"aiokafka {i}".encode() for i in range(5)]


# ------------------------------------------------------------------- ClickHouse (shared)


@pytest.mark.chserver
def test_clickhouse_start_is_idempotent_and_status_reports_ready(clickhouse_server: tuple[str, int]) -> None:
    assert run("clickhouse.sh", "start").returncode == 0
    assert run("clickhouse.sh", "start").returncode == 0
    status = run("clickhouse.sh", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert str(clickhouse_server[1]) in status.stdout


@pytest.fixture
def ch_client(clickhouse_server: tuple[str, int]) -> Iterator[tuple[object, str]]:
    from clickhouse_driver import Client

    host, port = clickhouse_server
    client = Client(host=host, port=port, connect_timeout=5)
    database = f"test_deploy_{uuid.uuid4().hex[:10]}"
    client.execute(f"CREATE DATABASE {database}")
    try:
        yield client, database
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()


@pytest.mark.chserver
def test_clickhouse_select_and_insert_round_trip(ch_client: tuple[object, str]) -> None:
    client, db = ch_client
    assert client.execute("SELECT 1") == [(1,)]  # type: ignore[attr-defined]
    client.execute(  # type: ignore[attr-defined]
        f"CREATE TABLE {db}.posts (id String, created_at DateTime('UTC'), brands Array(String)) "
        "ENGINE = ReplacingMergeTree() ORDER BY id"
    )
    ts = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    rows = [("p1", ts, ["acme"]), ("p2", ts, ["acme", "globex"]), ("p1", ts, ["acme"])]
    client.execute(f"INSERT INTO {db}.posts (id, created_at, brands) VALUES", rows)  # type: ignore[attr-defined]
    got = client.execute(  # type: ignore[attr-defined]
        f"SELECT id, created_at, brands FROM {db}.posts FINAL WHERE has(brands, %(b)s) ORDER BY id",
        {"b": "acme"},
    )
    assert [(r[0], r[1].replace(tzinfo=UTC), r[2]) for r in got] == [
        ("p1", ts, ["acme"]), ("p2", ts, ["acme", "globex"])]


# ------------------------------------------------- life cycle on private instances


@pytest.fixture
def private_var(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # stop anything a failed test left behind (idempotent when already stopped)
    for script, env in (("kafka.sh", _kafka_env(tmp_path)), ("clickhouse.sh", _ch_env(tmp_path))):
        if (tmp_path / script.split(".")[0]).exists():
            run(script, "stop", env)


_PORTS: dict[Path, dict[str, str]] = {}


def _kafka_env(var: Path) -> dict[str, str]:
    ports = _PORTS.setdefault(var, {})
    ports.setdefault("KAFKA_PORT", str(free_port()))
    ports.setdefault("KAFKA_CONTROLLER_PORT", str(free_port()))
    return {"HYPERMICRO_VAR": str(var), "KAFKA_PORT": ports["KAFKA_PORT"],
            "KAFKA_CONTROLLER_PORT": ports["KAFKA_CONTROLLER_PORT"], "KAFKA_HEAP_OPTS": "-Xms64m -Xmx256m"}


def _ch_env(var: Path) -> dict[str, str]:
    ports = _PORTS.setdefault(var, {})
    ports.setdefault("CLICKHOUSE_PORT", str(free_port()))
    ports.setdefault("CLICKHOUSE_HTTP_PORT", str(free_port()))
    return {"HYPERMICRO_VAR": str(var), "CLICKHOUSE_PORT": ports["CLICKHOUSE_PORT"],
            "CLICKHOUSE_HTTP_PORT": ports["CLICKHOUSE_HTTP_PORT"]}


@pytest.mark.kafka
def test_kafka_private_instance_life_cycle(private_var: Path) -> None:
    env = _kafka_env(private_var)
    assert run("kafka.sh", "status", env).returncode == 1
    assert run("kafka.sh", "stop", env).returncode == 0  # stop when stopped: no-op
    started = run("kafka.sh", "start", env)
    assert started.returncode == 0, started.stderr
    pid = pid_of(private_var, "kafka")
    cluster_id = (private_var / "kafka" / "cluster.id").read_text()
    assert run("kafka.sh", "start", env).returncode == 0
    assert pid_of(private_var, "kafka") == pid  # start when running: no-op
    assert run("kafka.sh", "status", env).returncode == 0
    restarted = run("kafka.sh", "restart", env)
    assert restarted.returncode == 0, restarted.stderr
    assert pid_of(private_var, "kafka") != pid
    assert (private_var / "kafka" / "cluster.id").read_text() == cluster_id  # formatted once
    assert run("kafka.sh", "stop", env).returncode == 0
    assert run("kafka.sh", "status", env).returncode == 1
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.chserver
def test_clickhouse_private_instance_life_cycle(private_var: Path) -> None:
    from clickhouse_driver import Client

    env = _ch_env(private_var)
    assert run("clickhouse.sh", "status", env).returncode == 1
    started = run("clickhouse.sh", "start", env)
    assert started.returncode == 0, started.stderr
    pid = pid_of(private_var, "clickhouse")
    client = Client(host="127.0.0.1", port=int(env["CLICKHOUSE_PORT"]), connect_timeout=5)
    client.execute("CREATE TABLE default.kept (x UInt8) ENGINE = MergeTree() ORDER BY x")
    client.execute("INSERT INTO default.kept (x) VALUES", [(7,)])
    client.disconnect()
    restarted = run("clickhouse.sh", "restart", env)
    assert restarted.returncode == 0, restarted.stderr
    assert pid_of(private_var, "clickhouse") != pid
    client = Client(host="127.0.0.1", port=int(env["CLICKHOUSE_PORT"]), connect_timeout=5)
    assert client.execute("SELECT x FROM default.kept") == [(7,)]  # data survives a restart
    client.disconnect()
    assert run("clickhouse.sh", "stop", env).returncode == 0
    assert run("clickhouse.sh", "status", env).returncode == 1
    assert run("clickhouse.sh", "stop", env).returncode == 0
