"""Enriched posts, deduplicated by post id (ReplacingMergeTree) with Kafka lineage columns."""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS posts (
        id String,
        source String,
        url String,
        created_at DateTime('UTC'),
        collected_at DateTime('UTC'),
        enriched_at DateTime('UTC'),
        text String,
        lang String,
        language String,
        author_id String,
        author_handle String,
        author_name String,
        author_followers UInt32,
        author_following UInt32,
        reply_to_author String,
        reply_to_post String,
        repost_of_author String,
        quote_of_author String,
        mentions Array(String),
        hashtags Array(String),
        links Array(String),
        likes UInt32,
        reposts UInt32,
        replies UInt32,
        quotes UInt32,
        brands Array(String),
        brand_rules Array(String),
        brand_sentiments Array(String),
        brand_scores Array(Float32),
        sentiment_label String,
        sentiment_score Float32,
        sentiment_confidence Float32,
        topics Array(String),
        topic_scores Array(Float32),
        duplicate_of String,
        conversation_id String,
        _partition Int32,
        _offset Int64,
        _version UInt64
    ) ENGINE = ReplacingMergeTree(_version)
    PARTITION BY toYYYYMM(created_at)
    ORDER BY (toStartOfHour(created_at), id)
    """,
]
BACKWARDS = ["DROP TABLE IF EXISTS posts"]
