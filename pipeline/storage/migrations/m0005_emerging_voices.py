"""Snapshots of the emerging-voices ranking per subject (latest snapshot wins)."""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS emerging_voices (
        subject_id String,
        author_id String,
        handle String,
        rank UInt16,
        score Float32,
        growth Float32,
        reach Float32,
        resonance Float32,
        relevance Float32,
        reasons Array(String),
        snapshot_at DateTime('UTC')
    ) ENGINE = ReplacingMergeTree(snapshot_at)
    ORDER BY (subject_id, author_id)
    """,
]
BACKWARDS = ["DROP TABLE IF EXISTS emerging_voices"]
