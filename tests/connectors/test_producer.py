"""PostProducer and ensure_topics against the real local Kafka."""

from __future__ import annotations

import uuid

import pytest
from kafka.admin import KafkaAdminClient

from pipeline.core.kafka import KafkaDeliveryError, PostProducer, ensure_topics
from pipeline.core.schema import RawPost

pytestmark = pytest.mark.kafka


def _post(i: int) -> RawPost:
    return RawPost.model_validate({"id": str(i), "source": "t", "created_at": "2024-05-01T12:00:00Z",
                                   "text": f"hello {i}", "author": {"id": "a"}})


def test_ensure_topics_is_idempotent(kafka_bootstrap: str) -> None:
    names = [f"test.connectors.{uuid.uuid4().hex[:10]}" for _ in range(2)]
    assert sorted(ensure_topics(kafka_bootstrap, names, partitions=3)) == sorted(names)
    assert ensure_topics(kafka_bootstrap, names, partitions=3) == []
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names)}
    finally:
        admin.close()
    assert described == {names[0]: 3, names[1]: 3}


def test_send_keys_by_post_id_and_values_are_rawpost_json(consume, kafka_bootstrap: str, topic: str,
                                                         producer: PostProducer) -> None:
    futures = [producer.send(_post(i)) for i in range(3)]
    producer.send_raw(None, b"\xff not json")
    producer.flush(10)
    assert [f.get(1).offset for f in futures] == [0, 1, 2]
    msgs = consume(topic, 4)
    assert [m.key for m in msgs] == [b"t:0", b"t:1", b"t:2", None]
    assert RawPost.model_validate_json(msgs[1].value).text == "hello 1"
    assert msgs[3].value == b"\xff not json"


def test_delivery_errors_are_raised_not_swallowed(kafka_bootstrap: str, topic: str) -> None:
    producer = PostProducer(kafka_bootstrap, topic=topic, max_request_size=40_000_000)
    producer.send_raw(b"big", b"x" * 20_000_000)  # above the broker's message.max.bytes (16 MB)
    with pytest.raises(KafkaDeliveryError) as info:
        producer.flush(30)
    assert info.value.total_failed == 1
    assert "MessageSizeTooLarge" in str(info.value)
    # an idempotent producer is fenced after a fatal error: later sends fail loudly too
    producer.send(_post(1))
    with pytest.raises(KafkaDeliveryError):
        producer.flush(10)
    producer.close(5)


def test_context_manager_flushes_on_exit(consume, kafka_bootstrap: str, topic: str) -> None:
    with PostProducer(kafka_bootstrap, topic=topic, linger_ms=5000) as producer:
        for i in range(5):
            producer.send(_post(i))
    assert len(consume(topic, 5)) == 5


def test_same_key_same_partition_on_every_path(kafka_bootstrap: str, consume) -> None:  # noqa: ANN001
    name = f"test.connectors.{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, [name], partitions=3)
    with PostProducer(kafka_bootstrap, topic=name) as producer:
        first = [producer.send(_post(i)) for i in range(30)]
        again = [producer.send(_post(i)) for i in range(30)]
        producer.flush(10)
        assert [f.get(1).partition for f in first] == [f.get(1).partition for f in again]
        fast = producer.keyed_sender()
        for i in range(30):
            fast(f"t:{i}".encode(), b"{}")
        producer.flush(10)
        futures = {i: producer.send_raw(f"t:{i}".encode(), b"{}") for i in range(30)}
        producer.flush(10)
    partitions = {i: f.get(1).partition for i, f in futures.items()}
    assert len(set(partitions.values())) == 3  # keys spread over all partitions
    assert [f.get(1).partition for f in first] == [partitions[i] for i in range(30)]  # post ids are t:<i>
    seen: dict[bytes, set[int]] = {}
    for m in consume(name, 120):
        seen.setdefault(m.key, set()).add(m.partition)
    assert len(seen) == 30 and all(len(p) == 1 for p in seen.values())  # send, keyed_sender, send_raw agree
