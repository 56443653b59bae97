"""Prometheus metrics of the connector runner (names are constants; labels connector, stream)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from pipeline.core.topics import METRIC_PREFIX

POSTS = Counter(f"{METRIC_PREFIX}_connector_posts", "Posts produced to Kafka.", ["connector", "stream"])
DUPLICATES = Counter(f"{METRIC_PREFIX}_connector_duplicates", "Records skipped as already seen.",
                     ["connector", "stream"])
INVALID = Counter(f"{METRIC_PREFIX}_connector_invalid", "Records that failed normalisation (dead-lettered).",
                  ["connector", "stream"])
ERRORS = Counter(f"{METRIC_PREFIX}_connector_errors",
                 "Source errors by kind (http_429, http_5xx, timeout, connection, malformed, reconnect, "
                 "auth, delivery, fatal).", ["connector", "stream", "kind"])
CHECKPOINTS = Counter(f"{METRIC_PREFIX}_connector_checkpoints", "Cursor states persisted after Kafka acks.",
                      ["connector", "stream"])
LAG = Gauge(f"{METRIC_PREFIX}_connector_lag_seconds",
            "Seconds between now and the created_at of the newest post produced.", ["connector", "stream"])
WEBHOOK_REQUESTS = Counter(f"{METRIC_PREFIX}_webhook_requests", "Webhook requests by HTTP status.",
                           ["connector", "status"])
