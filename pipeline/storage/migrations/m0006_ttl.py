"""Retention: raw post rows expire 90 days after ingestion (TTL needs ClickHouse >= 19.6).

Keyed on ``enriched_at`` rather than ``created_at`` so a backfill of old posts is kept.
Per-minute aggregates are small and kept.
"""

MIN_SERVER_VERSION = (19, 6)
FORWARDS = ["ALTER TABLE posts MODIFY TTL enriched_at + INTERVAL 90 DAY"]
BACKWARDS = ["ALTER TABLE posts REMOVE TTL"]
