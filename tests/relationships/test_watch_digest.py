"""The leader-side roster pass on chDB: a negative post by a rostered voice becomes one alert
for its owner (never twice), and a person's digest covers their voices' posts, rising voices,
negatives and interactions, once per period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.core.clock import utc_now
from pipeline.core.roster import Person, Voice
from pipeline.core.schema import Alert, BrandMention, EnrichedPost, RawPost, Sentiment, TopicTag
from pipeline.relationships.digest import build_digest, period_of
from pipeline.relationships.watch import RosterWatch
from pipeline.storage.backend import ChdbBackend
from pipeline.storage.migrate import migrate
from pipeline.storage.repository import Repository
from pipeline.storage.roster import RosterStore
from pipeline.storage.roster_posts import VoicePosts


def _post(i: int, author: str, label: str, text: str) -> EnrichedPost:
    post = RawPost.model_validate({"id": str(i), "source": "masto", "created_at": utc_now(whole_seconds=True).isoformat(),
                                   "text": text, "author": {"id": author, "handle": author}})
    return EnrichedPost(post=post, sentiment=Sentiment(label=label, score=0.0),
                        brands=[BrandMention(brand_id="acme", matched_text="acme", start=0, end=4, rule="name",
                                             sentiment=label)],
                        topics=[TopicTag(topic_id="pricing", score=0.9)], kafka_partition=0, kafka_offset=i)


def test_negative_post_alerts_the_owner_once_and_the_digest_tells_the_period(tmp_path: Path) -> None:
    ch = ChdbBackend(tmp_path / "chdb", "hypermicro")
    migrate(ch)
    repo = Repository(ch)
    store = RosterStore(ch)
    store.save_person(Person(name="alice", topics=["pricing"], digest="hourly"), "admin")
    store.save_voice(Voice(voice_id="masto:v1", accounts=["masto:v1"], handles=["@v1"], owner="alice"), "alice", "added")
    watch = RosterWatch("http://dash")
    emitted: list[Alert] = []

    async def emit(a: Alert) -> None:
        emitted.append(a)
        repo.insert_alerts([a])

    asyncio.run(watch.tick(repo, emit))
    assert emitted == []
    repo.insert_posts([_post(1, "v1", "positive", "acme is great"), _post(2, "v1", "negative", "acme broke again"),
                       _post(3, "other", "negative", "acme is awful")])
    store.log_interaction("masto:v1", "replied", "asked what broke", "alice")
    asyncio.run(watch.tick(repo, emit))
    asyncio.run(watch.tick(repo, emit))  # nothing new: nothing twice
    assert [(a.kind, a.owners, a.evidence.post_ids) for a in emitted] == [("voice_negative", ["alice"], ["masto:2"])]
    assert "acme broke again" in emitted[0].explanation

    start = utc_now(whole_seconds=True) - timedelta(minutes=5)
    digest = build_digest(store, VoicePosts(ch), "alice", start, utc_now(whole_seconds=True) + timedelta(seconds=1))
    text = "\n".join(digest.lines())
    assert "Turned negative: @v1 about acme: \u201cacme broke again\u201d" in text
    assert "New post by @v1 about acme, pricing" in text and "awful" not in text
    assert "alice replied @v1: asked what broke" in text
    assert build_digest(store, VoicePosts(ch), "bob", start, utc_now(whole_seconds=True)).empty

    # the scheduled digest of the period that just ended goes out once
    end = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    assert period_of(Person(name="x", digest="hourly"), end + timedelta(minutes=10)) == (end - timedelta(hours=1), end)
    assert period_of(Person(name="x", digest="off"), end) is None
    sent: list[Any] = []
    watch._digested.clear()
    alerts = watch._digests(repo, utc_now(whole_seconds=True) + timedelta(hours=1))
    sent += alerts
    assert [a.kind for a in alerts] == ["owner_digest"] and alerts[0].owners == ["alice"]
    repo.insert_alerts(alerts)
    watch._digested.clear()
    assert watch._digests(repo, utc_now(whole_seconds=True) + timedelta(hours=1)) == []  # stored: never twice


def test_owner_alerts_read_as_plain_words_in_email_and_slack() -> None:
    from pipeline.alerts import render
    from pipeline.relationships.watch import negative_alert

    row = {"id": "masto:2", "source": "masto", "author_id": "v1", "author_handle": "v1", "url": "https://x/2",
           "text": "acme broke again\nSubject: injected", "created_at": datetime(2026, 12, 6, 22, 0, tzinfo=UTC),
           "brands": ["acme", "rival"], "brand_sentiments": ["negative", "positive"]}
    a = negative_alert(row, {"voice_id": "masto:v1", "owner": "Ana Ruiz", "stage": "listening"}, "http://dash")
    assert render.email_subject(a) == "[hypermicro] WARNING @v1 (listening, owned by Ana Ruiz) posted negatively about acme"
    text, _ = render.email_bodies(a, "http://dash")
    assert "acme broke again" in text and "Observed" not in text and "http://dash/#/roster/masto:v1" in text
    assert "posted negatively about acme" in render.slack_payload(a, "http://dash", {})["text"]
