"""``posts.repost_of_post``: the id of the reposted post (Mastodon boosts, Reddit crossposts).

The live emerging-voices loop reads stored posts and needs it as the offline command does: a
voice whose attention is reposts of one post is discounted. Added last (ClickHouse 18.16 has no
``ADD COLUMN IF NOT EXISTS``; the migration runs once, as every migration)."""

FORWARDS = ["ALTER TABLE posts ADD COLUMN repost_of_post String"]
BACKWARDS = ["ALTER TABLE posts DROP COLUMN repost_of_post"]
