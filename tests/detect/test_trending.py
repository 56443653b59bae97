"""Trending conversations: velocity, acceleration, subjects, and the SQL-free ranking of counts."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.detect.trending import TrendConfig, TrendRanker, rank_from_counts

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _feed(tr: TrendRanker, conv: str, minutes: list[float], subjects: tuple[str, ...] = ("*",)) -> None:
    for m in minutes:
        tr.observe(conv, T0 + timedelta(minutes=m), subjects)


def _steady_and_rising() -> TrendRanker:
    tr = TrendRanker()
    _feed(tr, "steady", [i * 1.0 for i in range(60)])               # 60/h for an hour
    _feed(tr, "rising", [45 + i * 0.5 for i in range(30)])           # 0 then 120/h in the last 15 min
    _feed(tr, "old", [i * 0.2 for i in range(100)])                  # busy, but 40 min ago
    _feed(tr, "tiny", [59.0, 59.5])                                  # too few posts to list
    return tr


def test_accelerating_conversation_ranks_first_with_velocity_and_acceleration() -> None:
    tr = _steady_and_rising()
    top = tr.top(now=T0 + timedelta(minutes=60))
    ids = [t.conversation_id for t in top]
    assert ids[:2] == ["rising", "steady"]
    assert "old" not in ids and "tiny" not in ids
    rising, steady = top[0], top[1]
    assert rising.velocity == pytest.approx(120.0)
    assert rising.acceleration == pytest.approx(120.0 / 0.25)
    assert steady.velocity == pytest.approx(60.0)
    assert abs(steady.acceleration) < 1e-9 and steady.score == pytest.approx(60.0)
    assert rising.count == 30


def test_subjects_are_ranked_separately() -> None:
    tr = TrendRanker()
    _feed(tr, "a", [50 + i for i in range(10)], ("*", "acme"))
    _feed(tr, "b", [50 + i * 0.5 for i in range(20)], ("*", "voltcart"))
    now = T0 + timedelta(minutes=60)
    assert [t.conversation_id for t in tr.top("acme", now)] == ["a"]
    assert [t.conversation_id for t in tr.top("voltcart", now)] == ["b"]
    assert [t.conversation_id for t in tr.top("*", now)] == ["b", "a"]
    assert tr.top("nobody", now) == []


def test_future_posts_are_not_used() -> None:
    tr = _steady_and_rising()
    early = tr.top(now=T0 + timedelta(minutes=40))
    assert "rising" not in [t.conversation_id for t in early]


def test_rank_from_counts_matches_the_online_ranker() -> None:
    tr = _steady_and_rising()
    minutes = {"steady": [i * 1.0 for i in range(60)], "rising": [45 + i * 0.5 for i in range(30)],
               "old": [i * 0.2 for i in range(100)], "tiny": [59.0, 59.5]}
    rows = []
    for conv, ms in minutes.items():
        per_min = Counter(int(m) for m in ms)
        rows += [(conv, T0 + timedelta(minutes=b), n) for b, n in per_min.items()]
    now = T0 + timedelta(minutes=60)
    assert rank_from_counts(rows, now) == tr.top(now=now)
    assert [t.conversation_id for t in rank_from_counts(rows, now, k=1)] == ["rising"]
    strict = rank_from_counts(rows, now, config=TrendConfig(min_count=40))
    assert strict == []


def test_round_trip_and_eviction() -> None:
    tr = TrendRanker(TrendConfig(max_conversations=5))
    for i in range(20):
        tr.observe(f"c{i}", T0 + timedelta(minutes=i * 10))
    assert len(tr._buckets["*"]) <= 6
    back = TrendRanker.from_dict(json.loads(json.dumps(tr.to_dict())))
    now = T0 + timedelta(minutes=200)
    assert back.top(now=now) == tr.top(now=now)
    _feed(back, "late", [195 + i * 0.2 for i in range(10)])
    assert back.top(now=now)[0].conversation_id == "late"
