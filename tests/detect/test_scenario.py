"""The synthetic scenario generator: valid, reproducible, varied, and with the promised cast."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pipeline.core.schema import RawPost
from pipeline.evaluation.scenario import generate_scenario, write_scenario


@pytest.fixture(scope="module")
def scen() -> tuple[list[dict], dict]:
    return generate_scenario(11, duration_h=4, n_emerging=4)


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def _attention(posts: list[dict]) -> dict[str, list[tuple[datetime, str]]]:
    """target author id or handle -> [(time, source author)]."""
    out: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for p in posts:
        t, src = _dt(p["created_at"]), p["author"]["id"]
        for key in ("reply_to_author", "repost_of_author", "quote_of_author"):
            if p[key]:
                out[p[key]].append((t, src))
        for m in p["mentions"]:
            out[m.lstrip("@").lower()].append((t, src))
    return out


def test_posts_are_valid_interchange_form_in_time_order(scen: tuple[list[dict], dict]) -> None:
    posts, truth = scen
    assert len(posts) > 1000
    times = [_dt(p["created_at"]) for p in posts]
    assert times == sorted(times)
    assert len({p["id"] for p in posts}) == len(posts)
    for p in posts[:500]:
        assert set(p) >= {"id", "source", "created_at", "text", "author", "reply_to_author", "mentions",
                          "repost_of_author", "quote_of_author", "engagement", "lang"}
        RawPost.model_validate(p)
    assert _dt(truth["start"]) <= times[0] and times[-1] < _dt(truth["end"])


def test_same_seed_same_scenario_and_seeds_differ_in_shape() -> None:
    a, ta = generate_scenario(3, duration_h=3, n_emerging=2)
    b, tb = generate_scenario(3, duration_h=3, n_emerging=2)
    assert a == b and ta == tb
    shapes = set()
    for seed in range(4):
        posts, truth = generate_scenario(seed, duration_h=3, n_emerging=2)
        shapes.add((len(posts) // 500, len(truth["distractors"]["bots"]), len(truth["distractors"]["big"]),
                    truth["brand"]["id"]))
    assert len(shapes) >= 3


def test_planted_authors_rise_from_near_zero(scen: tuple[list[dict], dict]) -> None:
    posts, truth = scen
    att = _attention(posts)
    assert len(truth["emerging"]) == 4
    for e in truth["emerging"]:
        te = _dt(e["emerges_at"])
        assert _dt(truth["start"]) + timedelta(hours=0.5) <= te <= _dt(truth["end"]) - timedelta(hours=0.5)
        events = att[e["author_id"]] + att[e["handle"].lower()]
        before = {s for t, s in events if te - timedelta(hours=1) <= t < te}
        after = {s for t, s in events if te <= t < te + timedelta(hours=1)}
        assert len(before) <= 3 and len(after) >= 10, (e, len(before), len(after))


def test_distractors_look_like_what_they_are(scen: tuple[list[dict], dict]) -> None:
    posts, truth = scen
    d = truth["distractors"]
    by_author: dict[str, list[dict]] = defaultdict(list)
    for p in posts:
        by_author[p["author"]["id"]].append(p)
    followers = {p["author"]["id"]: p["author"]["followers"] for p in posts}
    assert all(followers[b] >= 100_000 for b in d["big"] if b in followers)
    att = _attention(posts)
    hours = truth["duration_h"]
    for b in d["big"]:
        assert len(att[b]) / hours >= 5  # lots of attention, all the time
    bot_posts = [p for b in d["bots"] for p in by_author[b]]
    assert len(bot_posts) / max(1, len(d["bots"])) / hours >= 10  # high volume
    assert sum(p["engagement"]["likes"] for p in bot_posts) / len(bot_posts) < 0.2  # low engagement
    assert max(len(p["mentions"]) for p in bot_posts) >= 4  # mention spam
    for v in d["viral"]:
        top = max(p["engagement"]["likes"] for p in by_author[v["author_id"]])
        assert top >= 1000 and len(by_author[v["author_id"]]) == 1
    own = truth["own_accounts"][0]
    assert len(by_author[own]) > 5
    mentions = Counter(m.lstrip("@") for p in posts for m in p["mentions"])
    assert mentions[truth["brand"]["handle"]] >= 100


def test_write_scenario_writes_jsonl_and_truth(tmp_path: Path) -> None:
    posts_path, truth_path = write_scenario(tmp_path / "s", 5, duration_h=3, n_emerging=2)
    lines = posts_path.read_text(encoding="utf-8").splitlines()
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    posts, expected = generate_scenario(5, duration_h=3, n_emerging=2)
    assert [json.loads(x) for x in lines] == posts and truth == expected
    assert {"author_id", "emerges_at"} <= set(truth["emerging"][0])


def test_too_short_scenarios_are_refused() -> None:
    with pytest.raises(ValueError):
        generate_scenario(1, duration_h=1)


def _sources_of(posts: list[dict], aid: str, handle: str) -> list[tuple[datetime, str]]:
    att = _attention(posts)
    return sorted(att.get(aid, []) + att.get(handle, []) + att.get("@" + handle, []))


def test_families_keep_the_default_and_shape_the_planted_growth() -> None:
    from pipeline.evaluation.scenario import FAMILIES

    assert generate_scenario(5, duration_h=3, n_emerging=2) == generate_scenario(5, duration_h=3, n_emerging=2,
                                                                                 family="default")
    with pytest.raises(ValueError, match="unknown scenario family"):
        generate_scenario(5, family="nope")
    scen = {f: generate_scenario(21, duration_h=5, n_emerging=3, family=f) for f in FAMILIES}
    for f, (posts, truth) in scen.items():
        times = [_dt(p["created_at"]) for p in posts]
        assert times == sorted(times), f
        for p in posts[:200]:
            RawPost.model_validate(p)
        assert truth.get("family", "default") == f and len(truth["emerging"]) == 3
    posts, truth = scen["small_cascade"]
    for e in truth["emerging"]:
        te = _dt(e["emerges_at"])
        bots = set(truth["distractors"]["bots"])
        srcs = {s for t, s in _sources_of(posts, e["author_id"], e["handle"])
                if te <= t <= te + timedelta(minutes=30) and s not in bots}
        assert 5 <= len(srcs) <= 9  # the cascade, perhaps one ordinary account by chance
    posts, truth = scen["slow_ramp"]
    for e in truth["emerging"]:
        te = _dt(e["emerges_at"])
        arr = [t for t, _ in _sources_of(posts, e["author_id"], e["handle"]) if t >= te]
        first = sum(t < te + timedelta(minutes=30) for t in arr)
        later = sum(te + timedelta(minutes=90) <= t < te + timedelta(minutes=120) for t in arr)
        assert first < later  # still ramping up after an hour
    posts, truth = scen["returning"]
    start = _dt(truth["start"])
    for e in truth["emerging"]:
        old = [t for t, _ in _sources_of(posts, e["author_id"], e["handle"]) if t < start]
        assert old and all(t <= start - timedelta(days=29) for t in old)
    base_bots = sum(p["text"].endswith("deal click link") for p in scen["default"][0])
    assert sum(p["text"].endswith("deal click link") for p in scen["bursty_bots"][0]) > base_bots
    assert len(scen["quiet_stream"][0]) < len(scen["default"][0])  # less background chatter
