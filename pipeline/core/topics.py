"""Kafka topic names, consumer groups and metric names: declared once, imported everywhere."""

from __future__ import annotations

RAW_POSTS = "social.posts.raw"
ENRICHED_POSTS = "social.posts.enriched"
DLQ = "social.posts.dlq"
ALERTS = "social.alerts"

ALL_TOPICS = (RAW_POSTS, ENRICHED_POSTS, DLQ, ALERTS)

WORKER_GROUP = "hypermicro-worker"
"""Consumer group (Faust app id) of the enrich/sink workers."""

METRIC_PREFIX = "hypermicro"
