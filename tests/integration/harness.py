"""Helpers for integration tests: Kafka lag, committed offsets, topic reads, waiting. The worker
subprocess and the webhook receiver are in :mod:`pipeline.evaluation.live_stack`."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

REPO = Path(__file__).resolve().parents[2]


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        consumer.close()


def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        offs = admin.list_group_offsets(group).get(group, {})
        return {(tp.topic, tp.partition): getattr(meta, "offset", meta) for tp, meta in offs.items()}
    finally:
        admin.close()


def lag(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Messages not yet committed by ``group`` on ``topics`` (0 when fully processed).

    While the group's coordinator moves (a broker restart) the offsets cannot be read: that is
    "not drained yet", so callers polling with :func:`wait_until` simply ask again."""
    try:
        done = committed(bootstrap, group)
        ends = {topic: end_offsets(bootstrap, topic) for topic in topics}
    except KafkaError as exc:
        if not exc.retriable:
            raise
        return 1 << 62
    return sum(max(0, end - max(done.get((topic, part), 0), 0))
               for topic, parts in ends.items() for part, end in parts.items())


def wait_until(pred: Any, timeout: float, every: float = 1.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def read_topic(bootstrap: str, topic: str, timeout_ms: int = 5000) -> list[Any]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms, enable_auto_commit=False,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()
