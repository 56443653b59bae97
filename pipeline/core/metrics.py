"""Prometheus metrics of the worker (names are constants; one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pipeline.core.topics import METRIC_PREFIX as P

POSTS_ENRICHED = Counter(f"{P}_posts_enriched_total", "Posts tagged by the enrich agent.")
POSTS_STORED = Counter(f"{P}_posts_stored_total", "Enriched posts written to ClickHouse (including redeliveries).")
DLQ_MESSAGES = Counter(f"{P}_dlq_messages_total", "Messages sent to the dead-letter topic.", ["error_type"])
ALERTS_RAISED = Counter(f"{P}_alerts_raised_total", "Alerts raised by the detectors.", ["kind"])
SINK_RETRIES = Counter(f"{P}_sink_retries_total", "ClickHouse insert retries after transient failures.")
ENRICH_SECONDS = Histogram(f"{P}_enrich_batch_seconds", "Time to tag one batch.",
                           buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
ENRICH_BATCH_POSTS = Histogram(f"{P}_enrich_batch_posts", "Messages per enrich batch (small batches waste the encoder).",
                               buckets=(1, 8, 32, 64, 128, 256, 512, 1024))
SINK_BATCH_POSTS = Histogram(f"{P}_sink_batch_posts", "Posts per ClickHouse insert.",
                             buckets=(1, 8, 32, 64, 128, 256, 512, 1024, 4096))
SINK_SECONDS = Histogram(f"{P}_sink_batch_seconds", "Time to write one batch to ClickHouse.",
                         buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5))
INGEST_LATENCY = Histogram(f"{P}_collected_to_stored_seconds", "From collection by a connector to stored.",
                           buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900))
DETECT_SECONDS = Histogram(f"{P}_detect_pass_seconds", "Time of one detector pass on the leader (spikes + voices).",
                           buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
CONSUMER_LAG = Gauge(f"{P}_consumer_lag_messages", "Messages behind the high-water mark.", ["topic", "partition"])
