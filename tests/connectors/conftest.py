"""Shared fixtures: the real local Kafka (deploy/local/kafka.sh) and unique topics per test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("connectors.testing")

from pipeline.core.kafka import PostProducer, ensure_topics  # noqa: E402

# ``kafka_bootstrap`` comes from tests/conftest.py: it starts the local broker if needed
# (never a skip: these tests must run against the real Kafka).


@pytest.fixture
def topic(kafka_bootstrap: str) -> str:
    """A fresh single-partition topic (plus ``<topic>.dlq``) unique to this test."""
    name = f"test.connectors.{uuid.uuid4().hex[:12]}"
    ensure_topics(kafka_bootstrap, [name, name + ".dlq"], partitions=1, replication=1)
    return name


@pytest.fixture
def producer(kafka_bootstrap: str, topic: str) -> Iterator[PostProducer]:
    with PostProducer(kafka_bootstrap, topic=topic, linger_ms=5) as p:
        yield p


def consume_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0) -> list:
    """Read ``topic`` from the start until ``expected`` messages arrived (or the timeout passed),
    then a short extra wait to catch unexpected extra messages."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None, consumer_timeout_ms=500)
    out: list = []
    deadline = time.monotonic() + timeout_s
    extra_until: float | None = None
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            for records in batch.values():
                out.extend(records)
            if len(out) >= expected and extra_until is None:
                extra_until = time.monotonic() + 1.0
            if extra_until is not None and time.monotonic() > extra_until:
                break
    finally:
        consumer.close()
    return out


@pytest.fixture
def consume(kafka_bootstrap: str):  # noqa: ANN201
    """``consume(topic, expected)``: the records of ``topic`` from the beginning."""

    def _consume(topic: str, expected: int, timeout_s: float = 20.0) -> list:
        return consume_topic(kafka_bootstrap, topic, expected, timeout_s)

    return _consume
