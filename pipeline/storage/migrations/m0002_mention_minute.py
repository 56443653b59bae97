"""Per-minute mention counts per brand, topic and brand x topic, split by sentiment.

Maintained incrementally by materialized views. Counts are ``uniqExact(id)`` states, so a
redelivered post (same id) is never counted twice. Brand rows use the sentiment toward the
brand (brand-targeted), topic rows the post sentiment. Reposts and copy-pasted posts count:
amplification is part of the buzz (``duplicate_of`` only groups them under the original).
"""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS mention_minute (
        kind String,
        subject String,
        sentiment String,
        minute DateTime('UTC'),
        posts AggregateFunction(uniqExact, String)
    ) ENGINE = AggregatingMergeTree()
    PARTITION BY toYYYYMM(minute)
    ORDER BY (kind, subject, minute, sentiment)
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS mention_minute_brand_mv TO mention_minute AS
    SELECT 'brand' AS kind, brand AS subject, brand_sentiment AS sentiment,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts
    ARRAY JOIN brands AS brand, brand_sentiments AS brand_sentiment
    GROUP BY kind, subject, sentiment, minute
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS mention_minute_topic_mv TO mention_minute AS
    SELECT 'topic' AS kind, topic AS subject, sentiment_label AS sentiment,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts
    ARRAY JOIN topics AS topic
    GROUP BY kind, subject, sentiment, minute
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS mention_minute_brand_topic_mv TO mention_minute AS
    SELECT 'brand_topic' AS kind, concat(tupleElement(bs, 1), '|', arrayJoin(topics)) AS subject,
           tupleElement(bs, 2) AS sentiment,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts
    ARRAY JOIN arrayMap((b, s) -> (b, s), brands, brand_sentiments) AS bs
    GROUP BY kind, subject, sentiment, minute
    """,
    """
    CREATE MATERIALIZED VIEW IF NOT EXISTS mention_minute_all_mv TO mention_minute AS
    SELECT 'all' AS kind, '*' AS subject, sentiment_label AS sentiment,
           toStartOfMinute(created_at) AS minute, uniqExactState(id) AS posts
    FROM posts
    GROUP BY kind, subject, sentiment, minute
    """,
]
BACKWARDS = [
    "DROP TABLE IF EXISTS mention_minute_all_mv",
    "DROP TABLE IF EXISTS mention_minute_brand_topic_mv",
    "DROP TABLE IF EXISTS mention_minute_topic_mv",
    "DROP TABLE IF EXISTS mention_minute_brand_mv",
    "DROP TABLE IF EXISTS mention_minute",
]
