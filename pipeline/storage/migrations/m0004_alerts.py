"""Alerts as raised (idempotent by alert id) and acknowledgements of incidents."""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS alerts (
        id String,
        kind String,
        subject_kind String,
        subject_id String,
        brand_id String,
        topic_id String,
        severity String,
        score Float32,
        window_start DateTime('UTC'),
        window_end DateTime('UTC'),
        observed Float64,
        expected Float64,
        explanation String,
        incident_id String,
        owners Array(String),
        created_at DateTime('UTC'),
        payload String
    ) ENGINE = ReplacingMergeTree()
    PARTITION BY toYYYYMM(created_at)
    ORDER BY id
    """,
    """
    CREATE TABLE IF NOT EXISTS alert_acks (
        incident_id String,
        alert_id String,
        acked_by String,
        note String,
        acked_at DateTime('UTC')
    ) ENGINE = ReplacingMergeTree(acked_at)
    ORDER BY (incident_id, alert_id)
    """,
]
BACKWARDS = ["DROP TABLE IF EXISTS alert_acks", "DROP TABLE IF EXISTS alerts"]
