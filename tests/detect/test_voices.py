"""Emerging-voices tracker: who rises, who must not, and the state it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from pipeline.core.schema import RawPost
from pipeline.detect.voices import (
    RisingVoice,
    VoiceConfig,
    VoiceTracker,
    events_from_post,
)

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def post(pid: str, minute: float, author: str, followers: int = 100, *, handle: str | None = None,
         reply_to: str | None = None, mentions: list[str] | None = None, repost_of: str | None = None,
         quote_of: str | None = None, likes: int = 0) -> RawPost:
    return RawPost.model_validate({
        "id": pid, "source": "t", "created_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "text": "about acme", "author": {"id": author, "handle": handle or f"h_{author}", "followers": followers},
        "reply_to_author": reply_to, "mentions": mentions or [], "repost_of_author": repost_of,
        "quote_of_author": quote_of, "engagement": {"likes": likes, "reposts": 0, "replies": 0},
    })


class Stream:
    """A small conversation: background chatter plus whatever a test adds, replayed in time order."""

    def __init__(self, seed: int = 0, hours: float = 4.0, n_users: int = 300) -> None:
        self.rng = np.random.default_rng(seed)
        self.hours = hours
        self.users = [f"u{i}" for i in range(n_users)]
        self.posts: list[RawPost] = []
        self.handles: dict[str, str] = {}
        for m in np.sort(self.rng.uniform(0, hours * 60, int(150 * hours))):
            u = self.user()
            if self.rng.random() < 0.15:
                self.add(float(m), u, reply_to=self.user())
            else:
                self.add(float(m), u, mentions=["@acme"] if self.rng.random() < 0.5 else [])

    def user(self) -> str:
        return str(self.users[int(self.rng.integers(len(self.users)))])

    def add(self, minute: float, author: str, followers: int | None = None, **kw: Any) -> None:
        f = followers if followers is not None else int(self.rng.lognormal(5, 1))
        if kw.get("handle"):
            self.handles[author] = kw["handle"]
        self.posts.append(post(f"p{len(self.posts)}", minute, author, f, **kw))

    def attention(self, target: str, start_min: float, end_min: float, per_hour: float,
                  kinds: tuple[str, ...] = ("reply", "mention", "quote", "repost"),
                  sources: list[str] | None = None) -> None:
        n = int(self.rng.poisson(per_hour * (end_min - start_min) / 60.0))
        for i, m in enumerate(np.sort(self.rng.uniform(start_min, end_min, n))):
            src = sources[i % len(sources)] if sources else f"fan_{target}_{i}_{self.rng.integers(1e9)}"
            kind = kinds[i % len(kinds)]
            kw: dict[str, Any] = {"reply": {"reply_to": target}, "mention": {"mentions": ["@" + self.handles.get(target, f"h_{target}")]},
                                  "quote": {"quote_of": target}, "repost": {"repost_of": target}}[kind]
            self.add(float(m), src, **kw)

    def replay(self, tracker: VoiceTracker | None = None) -> tuple[VoiceTracker, list[RisingVoice]]:
        tr = tracker or VoiceTracker()
        alerts: list[RisingVoice] = []
        for p in sorted(self.posts, key=lambda p: p.created_at):
            alerts.extend(tr.observe(p))
        return tr, alerts


def test_small_author_with_rising_distinct_attention_is_flagged_within_30_minutes() -> None:
    s = Stream(seed=1)
    s.add(30, "newbie", 250, handle="newbie")
    s.attention("newbie", 150, 240, per_hour=30)
    tr, alerts = s.replay()
    mine = [a for a in alerts if a.author_id == "newbie"]
    assert mine, "the rising author was not flagged"
    delay = (mine[0].at - (T0 + timedelta(minutes=150))).total_seconds() / 60
    assert 0 <= delay <= 30
    assert "people" in mine[0].reasons[0] and "@newbie usually gets" in mine[0].reasons[0]
    assert not any("p~" in r or "1e-" in r for r in mine[0].reasons)  # no p-values in words
    assert mine[0].facts["p_value"] < 1e-4  # ...they stay in the facts (alert details)
    assert any("followers" in r for r in mine[0].reasons)
    top = tr.ranking("*", k=3)
    assert top and top[0].author_id == "newbie"
    assert top[0].growth > 5 and top[0].reach > 5


def test_big_steady_account_is_neither_alerted_nor_ranked_above_a_rising_one() -> None:
    s = Stream(seed=2)
    s.add(5, "celeb", 2_000_000, handle="celeb")
    s.attention("celeb", 0, 240, per_hour=60)
    s.attention("newbie", 170, 240, per_hour=25)
    tr, alerts = s.replay()
    assert "celeb" not in {a.author_id for a in alerts}
    ranked = [r.author_id for r in tr.ranking("*", k=10)]
    assert ranked and ranked[0] == "newbie"
    assert "celeb" not in ranked[:1]


def test_brand_own_account_is_excluded_even_when_it_spikes() -> None:
    s = Stream(seed=3)
    s.add(5, "acme-id", 300_000, handle="acme")
    s.attention("acme-id", 180, 240, per_hour=400)  # a launch: everyone talks to the brand
    own = {"*": {"acme"}}
    tr, alerts = s.replay(VoiceTracker(own_accounts=own))
    assert "acme-id" not in {a.author_id for a in alerts}
    assert "acme-id" not in {r.author_id for r in tr.ranking("*")}
    # without the exclusion the same spike would surface
    tr2, alerts2 = s.replay()
    assert "acme-id" in {r.author_id for r in tr2.ranking("*")} | {a.author_id for a in alerts2}


def test_a_bot_hammering_one_account_counts_once() -> None:
    s = Stream(seed=4)
    s.add(10, "target", 80, handle="target")
    for i in range(200):  # one account, 200 replies and mentions in 40 minutes
        s.add(180 + i * 0.2, "bot1", 5, **({"mentions": ["@target"]} if i % 2 else {"reply_to": "target"}))
    # credibility off: distinct counting alone must hold
    tr, alerts = s.replay(VoiceTracker(VoiceConfig(bot_rate_per_h=1e9)))
    assert "target" not in {a.author_id for a in alerts}
    assert all(r.author_id != "target" or r.reach <= 1.0 for r in tr.ranking("*"))


def test_high_volume_bot_network_weighs_little() -> None:
    s = Stream(seed=5)
    s.add(10, "spam", 40, handle="spam")
    bots = [f"bot{i}" for i in range(12)]
    for b in bots:  # each bot posts ~60/h from the start, mention-spamming random accounts
        for m in np.arange(0, 240, 1.0):
            s.add(float(m) + s.rng.uniform(0, 1), b, 3, mentions=[f"@h_{s.user()}" for _ in range(4)])
    s.attention("spam", 150, 240, per_hour=40, kinds=("reply", "mention"), sources=bots)
    tr, alerts = s.replay()
    assert "spam" not in {a.author_id for a in alerts}
    assert not any(a.author_id.startswith("bot") for a in alerts)


def test_single_viral_post_cascade_does_not_alert_or_dominate() -> None:
    s = Stream(seed=6)
    s.add(120, "lucky", 500, handle="lucky", likes=20_000)
    s.attention("lucky", 120.5, 140, per_hour=240, kinds=("repost", "repost", "repost", "quote"))
    s.add(5, "newbie", 300, handle="newbie")
    s.attention("newbie", 180, 240, per_hour=25)
    tr, alerts = s.replay()
    assert "lucky" not in {a.author_id for a in alerts}
    ranked = tr.ranking("*", k=5)
    assert ranked[0].author_id == "newbie"


def test_short_reply_thread_is_not_a_rising_voice() -> None:
    s = Stream(seed=7)
    s.add(100, "op", 200, handle="op")
    s.attention("op", 100, 120, per_hour=45, kinds=("reply",))  # ~15 replies under one post
    _, alerts = s.replay()
    assert "op" not in {a.author_id for a in alerts}


def test_mentions_resolve_handles_and_ids_case_insensitively() -> None:
    tr = VoiceTracker()
    tr.observe(post("a", 0, "ID-7", 100, handle="@Rising_Star"))
    tr.observe(post("b", 1, "x1", mentions=["@RISING_STAR"]))
    tr.observe(post("c", 2, "x2", mentions=["id-7"]))
    tr.observe(post("d", 3, "x3", reply_to="ID-7"))
    st = tr._states["*"]
    assert "ID-7" in st and len(st["ID-7"].sources) == 3
    assert not any(k.startswith("@") for k in st)


def test_attention_before_the_author_posts_merges_into_the_author() -> None:
    tr = VoiceTracker()
    tr.observe(post("a", 0, "x1", mentions=["@later"]))
    tr.observe(post("b", 1, "x2", mentions=["later"]))
    assert "@later" in tr._states["*"]
    tr.observe(post("c", 2, "late-id", handle="later"))
    st = tr._states["*"]
    assert "@later" not in st and set(st["late-id"].sources) == {"x1", "x2"}


def test_events_from_post_counts_a_target_once_with_the_strongest_kind() -> None:
    p = post("a", 0, "me", reply_to="you", mentions=["@you", "@me", "@other"], repost_of=None)
    evs = events_from_post(p)
    kinds = {e.target: e.kind for e in evs if e.kind != "post"}
    assert kinds == {"you": "reply", "other": "mention"}
    spam = post("b", 0, "me", mentions=[f"@u{i}" for i in range(6)])
    assert all(e.weight == pytest.approx(0.5) for e in events_from_post(spam) if e.kind == "mention")


def test_idle_authors_are_evicted() -> None:
    cfg = VoiceConfig(idle_evict_h=1.0, prior_refresh_min=5.0)
    tr = VoiceTracker(cfg)
    for i in range(50):
        tr.observe(post(f"a{i}", i * 0.1, f"old{i}", mentions=[f"@m{i}"]))
    for i in range(30):
        tr.observe(post(f"b{i}", 180 + i, f"new{i % 3}"))
    keys = set(tr._states["*"])
    assert not any(k.startswith(("old", "@m")) for k in keys)
    assert {"new0", "new1", "new2"} <= keys


def test_subjects_are_ranked_separately_and_relevance_is_reported() -> None:
    s = Stream(seed=9)
    s.add(5, "newbie", 150, handle="newbie")
    s.attention("newbie", 150, 240, per_hour=30)
    tr = VoiceTracker()
    for p in sorted(s.posts, key=lambda p: p.created_at):
        subs = ("*", "acme") if p.author.id.startswith("fan_") or p.author.id == "newbie" else ("*",)
        tr.observe(p, subs)
    acme = tr.ranking("acme")
    assert acme and acme[0].author_id == "newbie" and acme[0].subject == "acme"
    assert 0 < acme[0].relevance <= 1
    assert any("about acme" in r for r in acme[0].reasons)
    assert tr.ranking("nothing-here") == []


def test_a_big_account_having_a_busy_hour_is_not_a_rising_voice() -> None:
    s = Stream(seed=10)
    s.add(5, "celeb", 1_500_000, handle="celeb")
    s.attention("celeb", 0, 240, per_hour=40)
    s.attention("celeb", 190, 235, per_hour=200)  # attention x6 for 45 minutes
    _, alerts = s.replay()
    assert "celeb" not in {a.author_id for a in alerts}
