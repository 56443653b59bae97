"""The roster of voices, the people who own them, and an append-only log of every change.

Voices and people are versioned rows (``ReplacingMergeTree(version)``: the newest version of a
key wins, ``deleted = 1`` hides it); nothing is updated in place.  ``roster_changes`` keeps every
change (who, when, what before and after) and every interaction logged with a voice."""

FORWARDS = [
    """
    CREATE TABLE IF NOT EXISTS roster_voices (
        voice_id String,
        accounts Array(String),
        handles Array(String),
        display_name String,
        owner String,
        suggested_owner String,
        stage String,
        brands Array(String),
        topics Array(String),
        tags Array(String),
        added_by String,
        added_at DateTime('UTC'),
        updated_by String,
        updated_at DateTime('UTC'),
        deleted UInt8,
        version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY voice_id
    """,
    """
    CREATE TABLE IF NOT EXISTS roster_people (
        name String,
        email String,
        brands Array(String),
        topics Array(String),
        digest String,
        updated_by String,
        updated_at DateTime('UTC'),
        deleted UInt8,
        version UInt64
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY name
    """,
    """
    CREATE TABLE IF NOT EXISTS roster_changes (
        entity String,
        entity_id String,
        seq UInt64,
        at DateTime('UTC'),
        by String,
        action String,
        kind String,
        note String,
        before String,
        after String
    ) ENGINE = MergeTree()
    ORDER BY (entity, entity_id, seq)
    """,
]
BACKWARDS = [
    "DROP TABLE IF EXISTS roster_changes",
    "DROP TABLE IF EXISTS roster_people",
    "DROP TABLE IF EXISTS roster_voices",
]
