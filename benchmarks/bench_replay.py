"""File replay -> Kafka producer throughput (one process).

Generates N synthetic posts as JSONL, replays them with :func:`connectors.file_replay.replay_file`
into a fresh topic of the local Kafka (deploy/local/kafka.sh) and prints posts/s, counting until
Kafka acknowledged the last one. Run: ``.venv/bin/python benchmarks/bench_replay.py --posts 200000``.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

WORDS = ["acme", "phone", "battery", "broke", "support", "love", "great", "terrible", "refund", "update", "outage", "service", "network", "launch", "price", "review", "camera", "screen", "fast", "slow", "again", "today"]


def generate(path: Path, n: int, seed: int = 7) -> int:
    """Write ``n`` synthetic interchange-form posts to ``path``; return its size in bytes."""
    rng = random.Random(seed)
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    with path.open("wb") as fh:
        for i in range(n):
            author = rng.randrange(5000)
            post = {
                "id": str(10_000_000 + i), "source": "bench",
                "created_at": (t0 + timedelta(milliseconds=50 * i)).isoformat(),
                "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 30))),
                "author": {"id": str(author), "handle": f"user{author}", "followers": rng.randrange(10_000)},
                "reply_to_author": str(rng.randrange(5000)) if rng.random() < 0.3 else None,
                "mentions": [f"@user{rng.randrange(5000)}"] if rng.random() < 0.4 else [],
                "engagement": {"likes": rng.randrange(50), "reposts": rng.randrange(5), "replies": rng.randrange(5)},
                "lang": "en",
            }
            fh.write(orjson.dumps(post) + b"\n")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--bootstrap", default=os.environ.get("HYPERMICRO_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--compression", default=None, help="gzip, or none (lz4/zstd need extra packages)")
    parser.add_argument("--linger-ms", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1024 * 1024)
    args = parser.parse_args()

    from connectors.file_replay import replay_file
    from pipeline.core.kafka import PostProducer, ensure_topics

    topic = f"bench.replay.{uuid.uuid4().hex[:8]}"
    ensure_topics(args.bootstrap, [topic], partitions=args.partitions)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posts.jsonl"
        size = generate(path, args.posts)
        with PostProducer(args.bootstrap, topic=topic, linger_ms=args.linger_ms,
                          batch_size=args.batch_size, compression=args.compression) as producer:
            cpu0 = time.process_time()
            stats = replay_file(path, producer, topic, progress=False)
            cpu = time.process_time() - cpu0
    _delete_topic(args.bootstrap, topic)
    print(f"file_mb={size / 1e6:.1f} topic={topic} partitions={args.partitions} "
          f"compression={args.compression} linger_ms={args.linger_ms} batch_size={args.batch_size}")
    print(f"cpu_s={cpu:.2f} cpu_posts_per_s={stats.sent / cpu:.0f}")
    print(f"posts={stats.sent} invalid={stats.invalid} elapsed_s={stats.elapsed_s:.2f} "
          f"posts_per_s={stats.posts_per_s:.0f}")


def _delete_topic(bootstrap: str, topic: str) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics([topic])
    finally:
        admin.close()


if __name__ == "__main__":
    main()
