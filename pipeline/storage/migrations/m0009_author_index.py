"""Data-skipping bloom filters on the author columns: author search over 30 days reads only
the granules that can hold the author (needs ClickHouse >= 20.1 for ``bloom_filter`` and
``MATERIALIZE INDEX``; older servers skip it and scan)."""

MIN_SERVER_VERSION = (20, 1)
FORWARDS = [
    "ALTER TABLE posts ADD INDEX IF NOT EXISTS idx_author_id author_id TYPE bloom_filter(0.01) GRANULARITY 4",
    "ALTER TABLE posts ADD INDEX IF NOT EXISTS idx_author_handle author_handle TYPE bloom_filter(0.01) GRANULARITY 4",
    "ALTER TABLE posts MATERIALIZE INDEX idx_author_id",
    "ALTER TABLE posts MATERIALIZE INDEX idx_author_handle",
]
BACKWARDS = [
    "ALTER TABLE posts DROP INDEX IF EXISTS idx_author_handle",
    "ALTER TABLE posts DROP INDEX IF EXISTS idx_author_id",
]
