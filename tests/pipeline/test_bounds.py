"""Bounds at the door (pipeline/core/bounds.py) as the decoder applies them: each limit, its error,
and the configurable horizon."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.core.bounds import Bounds, OutOfBounds, check_post
from pipeline.core.decode import PoisonMessage, decode_post
from pipeline.core.schema import RawPost
from pipeline.core.settings import load_settings

NOW = datetime.now(UTC)  # at collection: offsets below stay far from the bounds, so a long suite cannot age them


def raw(**over: object) -> bytes:
    base: dict = {"id": "1", "source": "t", "created_at": NOW.isoformat(), "text": "hi", "author": {"id": "a"}}
    return json.dumps({**base, **over}).encode()


@pytest.mark.parametrize(("over", "field"), [
    ({"created_at": (NOW + timedelta(hours=12)).isoformat()}, "created_at"),
    ({"created_at": "2100-01-01T00:00:00Z"}, "created_at"),
    ({"created_at": "9999-12-31T23:59:59Z"}, "created_at"),
    ({"created_at": (NOW - timedelta(days=7400)).isoformat()}, "created_at"),
    ({"id": "x" * 600}, "id"),
    ({"author": {"id": "a", "handle": "h" * 2000}}, "author.handle"),
    ({"mentions": [f"m{i}" for i in range(300)]}, "mentions"),
    ({"links": ["https://e.example/" + "p" * 2000]}, "links[0]"),
])
def test_out_of_bounds_posts_are_poison_with_the_field(over: dict, field: str) -> None:
    with pytest.raises(PoisonMessage) as err:
        decode_post(raw(**over))
    assert err.value.error_type == "out_of_bounds" and field in str(err.value)


def test_near_future_and_recent_past_are_accepted() -> None:
    assert decode_post(raw(created_at=(NOW + timedelta(minutes=2)).isoformat())).id == "t:1"
    assert decode_post(raw(created_at=(NOW - timedelta(days=1000)).isoformat())).id == "t:1"


def test_replays_of_real_history_pass_by_default() -> None:
    """The public corpora users replay (Sanders 2011, Apple DFE 2014, GOP debate 2015) are not
    dead-lettered: a replay of real history must reach the pipeline."""
    for day in ("2011-10-18T12:00:00Z", "2014-12-04T20:00:00Z", "2015-08-07T01:00:00Z"):
        assert decode_post(raw(created_at=day)).id == "t:1"


def test_year_one_with_an_offset_is_invalid_not_a_crash() -> None:
    with pytest.raises(PoisonMessage) as err:
        decode_post(raw(created_at="0001-01-01T00:00:00+01:00"))
    assert err.value.error_type == "invalid_fields"


def test_horizon_comes_from_settings_for_backfills() -> None:
    old = raw(created_at="1991-05-01T00:00:00Z")
    with pytest.raises(PoisonMessage):
        decode_post(old)
    wide = Bounds.from_settings(load_settings(post_max_age_days=20000))
    assert decode_post(old, wide).created_at.year == 1991


def test_check_post_never_rewrites() -> None:
    post = RawPost.model_validate(json.loads(raw()))
    assert check_post(post) is post
    with pytest.raises(OutOfBounds):
        check_post(post, Bounds(max_age_days=1), now=NOW + timedelta(days=3))
