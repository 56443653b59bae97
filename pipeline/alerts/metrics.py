"""Prometheus metrics of alert delivery (names declared once)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from pipeline.core.topics import METRIC_PREFIX

ALERTS_DELIVERED = Counter(
    f"{METRIC_PREFIX}_alerts_delivered", "Alert deliveries accepted by a channel.", ["channel"]
)
ALERTS_FAILED = Counter(
    f"{METRIC_PREFIX}_alerts_failed", "Alert delivery attempts that failed (after in-channel retries).", ["channel"]
)
ALERTS_SUPPRESSED = Counter(
    f"{METRIC_PREFIX}_alerts_suppressed",
    "Alerts not delivered: duplicate, acknowledged, cooldown, rate_limited, replay, no_route.",
    ["reason"],
)
OUTBOX_SIZE = Gauge(f"{METRIC_PREFIX}_outbox_size", "Alert deliveries waiting in the outbox (pending + failed).")
