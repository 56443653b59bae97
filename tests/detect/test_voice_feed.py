"""The live voice feed: stored rows, in any order, reach the tracker in event-time order once the
watermark has passed them; redeliveries and unreadable rows never stop the stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.detect.voice_feed import VoiceFeed

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def row(i: int, minute: float, author: str, **kw: Any) -> dict[str, Any]:
    """A ``posts`` row as :data:`~pipeline.storage.posts_table.VOICE_COLUMNS` reads it."""
    base: dict[str, Any] = {
        "id": f"t:{i}", "source": "t", "created_at": T0 + timedelta(minutes=minute), "author_id": author,
        "author_handle": author, "author_followers": 100, "reply_to_author": None, "reply_to_post": None,
        "repost_of_author": None, "repost_of_post": None, "quote_of_author": None, "mentions": [],
        "likes": 0, "reposts": 0, "replies": 0, "quotes": 0, "brands": ["acme"], "_version": i,
    }
    return {**base, **kw}


def test_rows_wait_for_the_watermark_and_are_fed_in_event_time_order() -> None:
    feed = VoiceFeed(lateness=timedelta(minutes=2))
    fed_order: list[str] = []
    observe = feed.tracker.observe

    def spy(post: Any, subjects: Any) -> Any:
        fed_order.append(post.id)
        assert list(subjects) == ["*", "acme"]
        return observe(post, subjects)

    feed.tracker.observe = spy  # type: ignore[method-assign]
    step = feed.step([row(1, 10, "a"), row(2, 1, "b"), row(3, 5, "c")], watermark=T0 + timedelta(minutes=8))
    assert (step.fresh, step.fed) == (3, 2)  # minute 10 is within the lateness of the watermark
    assert fed_order == ["t:2", "t:3"]
    step = feed.step([row(2, 1, "b")], watermark=T0 + timedelta(minutes=8))  # a redelivery only: idle
    assert (step.fresh, step.fed) == (0, 1)  # nothing new: the buffer is flushed
    assert fed_order == ["t:2", "t:3", "t:1"]


def test_an_unreadable_row_is_left_out_and_the_rest_are_fed() -> None:
    feed = VoiceFeed()
    step = feed.step([row(1, 1, "a"), row(2, 2, "b", author_followers=-5), row(3, 3, "c")], watermark=None)
    assert step.unreadable == 1 and step.fresh == 2
    step = feed.step([], watermark=None)
    assert step.fed == 2
