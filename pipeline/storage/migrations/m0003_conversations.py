"""Conversations (online clusters) and their per-minute activity, for trending rankings."""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS conversations (
        conversation_id String,
        label String,
        key_terms Array(String),
        size UInt32,
        first_seen DateTime('UTC'),
        last_seen DateTime('UTC'),
        merged_into String,
        updated_at DateTime('UTC')
    ) ENGINE = ReplacingMergeTree(updated_at)
    ORDER BY conversation_id
    """,
    """
    CREATE TABLE IF NOT EXISTS conversation_minute (
        kind String,
        subject String,
        conversation_id String,
        minute DateTime('UTC'),
        posts AggregateFunction(uniqExact, String)
    ) ENGINE = AggregatingMergeTree()
    PARTITION BY toYYYYMM(minute)
    ORDER BY (kind, subject, minute, conversation_id)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS conversation_minute_all_mv TO conversation_minute AS
    SELECT 'all' AS kind, '*' AS subject, conversation_id,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts WHERE conversation_id != ''
    GROUP BY kind, subject, conversation_id, minute
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS conversation_minute_brand_mv TO conversation_minute AS
    SELECT 'brand' AS kind, brand AS subject, conversation_id,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts ARRAY JOIN brands AS brand WHERE conversation_id != ''
    GROUP BY kind, subject, conversation_id, minute
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS conversation_minute_topic_mv TO conversation_minute AS
    SELECT 'topic' AS kind, topic AS subject, conversation_id,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts ARRAY JOIN topics AS topic WHERE conversation_id != ''
    GROUP BY kind, subject, conversation_id, minute
    """,
]
BACKWARDS = [
    "DROP TABLE IF EXISTS conversation_minute_topic_mv",
    "DROP TABLE IF EXISTS conversation_minute_brand_mv",
    "DROP TABLE IF EXISTS conversation_minute_all_mv",
    "DROP TABLE IF EXISTS conversation_minute",
    "DROP TABLE IF EXISTS conversations",
]
