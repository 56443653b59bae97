"""Hourly brand mention counts, so long ranges read 60x fewer aggregate rows.

Same semantics as ``mention_minute`` (``uniqExact(id)`` states, sentiment toward the brand,
reposts count), one row per brand, sentiment and UTC hour. The API reads whole hours here and
the partial hours at a range's edges from ``mention_minute``; distinct post ids never span two
hours, so the sum of the parts is exact. The backfill fills the table for existing posts.
"""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS mention_hour (
        kind String,
        subject String,
        sentiment String,
        hour DateTime('UTC'),
        posts AggregateFunction(uniqExact, String)
    ) ENGINE = AggregatingMergeTree()
    PARTITION BY toYYYYMM(hour)
    ORDER BY (kind, subject, hour, sentiment)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS mention_hour_brand_mv TO mention_hour AS
    SELECT 'brand' AS kind, brand AS subject, brand_sentiment AS sentiment,
           toStartOfHour(created_at) AS hour, uniqExactState(id) AS posts
    FROM posts
    ARRAY JOIN brands AS brand, brand_sentiments AS brand_sentiment
    GROUP BY kind, subject, sentiment, hour
    """,
    """
    INSERT INTO mention_hour
    SELECT 'brand' AS kind, brand AS subject, brand_sentiment AS sentiment,
           toStartOfHour(created_at) AS hour, uniqExactState(id) AS posts
    FROM posts
    ARRAY JOIN brands AS brand, brand_sentiments AS brand_sentiment
    GROUP BY kind, subject, sentiment, hour
    """,
]
BACKWARDS = [
    "DROP TABLE IF EXISTS mention_hour_brand_mv",
    "DROP TABLE IF EXISTS mention_hour",
]
