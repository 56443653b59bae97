"""Durable state of the live detectors: where each stopped in event time and their baselines.

One row per save; the newest ``version`` of a ``name`` is the state (``ReplacingMergeTree`` keeps
only it after merges). ``state`` is the detector's JSON state, zlib-compressed and base64-encoded.
A restarted worker or a new leader resumes from ``fed_until`` with the saved baselines, so no
bucket is skipped and none is judged twice.
"""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS detector_state (
        name String,
        fed_until DateTime('UTC'),
        state String,
        saved_at DateTime('UTC'),
        version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY name
    """,
]
BACKWARDS = ["DROP TABLE IF EXISTS detector_state"]
