"""Bounds at the door: what a post may look like before anything downstream sees it.

One place for every limit on untrusted input. The worker's decoder and every connector (via
the runner and the file replay) call :func:`check_post`; a post out of bounds is rejected with
:class:`OutOfBounds` and dead-lettered with the reason. Nothing is clamped or rewritten: the
original bytes stay in the DLQ, so an operator can widen a bound and replay them.

Why these defaults (see docs/security.md):

- ``max_future_s`` 300: clocks of sources and collectors drift by seconds, not minutes; a post
  "from the future" beyond that is wrong or hostile, and would move event time forward.
- ``max_age_days`` 7305 (20 years): users replay and backfill real history (the public Twitter
  corpora this project is evaluated on date from 2011-2015), so the horizon reaches back to the
  first social posts, while dates like 0001-01-01 or the 1970 epoch are still refused. The sink
  splits inserts by month, so a batch spanning many months cannot exceed ClickHouse's limits.
- ``max_id_chars`` 512, ``max_field_chars`` 1024, ``max_list_items`` 256: generous for every
  real source (ids are < 100 chars, handles < 64, URLs < 500) and small enough that one post
  cannot blow up a row, a cursor or a label.
- ``max_message_bytes`` 1 MB: the text limit (100,000 characters, up to ~400 kB of UTF-8) plus
  every field at its limit fits; a 5 MB "post" is not a post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pipeline.core.schema import MAX_TEXT_CHARS, RawPost

DEFAULT_MAX_FUTURE_S = 300.0
DEFAULT_MAX_AGE_DAYS = 7305.0
MAX_ID_CHARS = 512
MAX_FIELD_CHARS = 1024
MAX_LIST_ITEMS = 256
MAX_MESSAGE_BYTES = 1_000_000


class OutOfBounds(ValueError):
    """A post is valid JSON and a valid RawPost but outside the accepted bounds."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class BoundsSettings(Protocol):
    """What the bounds are configured from (settings, connector runner options)."""

    @property
    def post_max_future_s(self) -> float: ...
    @property
    def post_max_age_days(self) -> float: ...


@dataclass(frozen=True)
class Bounds:
    """The accepted window of ``created_at`` and the size limits of a post."""

    max_future_s: float = DEFAULT_MAX_FUTURE_S
    max_age_days: float = DEFAULT_MAX_AGE_DAYS
    max_id_chars: int = MAX_ID_CHARS
    max_field_chars: int = MAX_FIELD_CHARS
    max_list_items: int = MAX_LIST_ITEMS
    max_text_chars: int = MAX_TEXT_CHARS
    max_message_bytes: int = MAX_MESSAGE_BYTES

    @classmethod
    def from_settings(cls, settings: BoundsSettings) -> Bounds:
        """The bounds configured in :class:`pipeline.core.settings.Settings` or a connector's options."""
        return cls(max_future_s=settings.post_max_future_s, max_age_days=settings.post_max_age_days)

    def window(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The accepted ``created_at`` range ``[oldest, newest]`` at ``now``."""
        now = now or datetime.now(UTC)
        return now - timedelta(days=self.max_age_days), now + timedelta(seconds=self.max_future_s)


DEFAULT_BOUNDS = Bounds()

_ID_FIELDS = ("id", "reply_to_post", "repost_of_post")
_SHORT_FIELDS = ("source", "lang", "reply_to_author", "repost_of_author", "quote_of_author")
_LONG_FIELDS = ("url",)
_AUTHOR_FIELDS = ("id", "handle", "display_name")
_LIST_FIELDS = ("mentions", "hashtags", "links")


def _length(field: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise OutOfBounds(field, f"{len(value)} characters, limit {limit}")


def check_post(post: RawPost, bounds: Bounds = DEFAULT_BOUNDS, now: datetime | None = None) -> RawPost:
    """Return ``post`` unchanged when it is within ``bounds``, else raise :class:`OutOfBounds`."""
    oldest, newest = bounds.window(now)
    if post.created_at > newest:
        raise OutOfBounds("created_at", f"{post.created_at.isoformat()} is more than {bounds.max_future_s:.0f} s "
                                        f"in the future (accepted up to {newest.isoformat(timespec='seconds')})")
    if post.created_at < oldest:
        raise OutOfBounds("created_at", f"{post.created_at.isoformat()} is older than {bounds.max_age_days:.0f} days "
                                        f"(accepted from {oldest.isoformat(timespec='seconds')}; "
                                        "raise post_max_age_days to backfill)")
    for name in _ID_FIELDS:
        _length(name, getattr(post, name), bounds.max_id_chars)
    for name in _SHORT_FIELDS + _LONG_FIELDS:
        _length(name, getattr(post, name), bounds.max_field_chars)
    for name in _AUTHOR_FIELDS:
        _length(f"author.{name}", getattr(post.author, name), bounds.max_field_chars)
    _length("text", post.text, bounds.max_text_chars)
    for name in _LIST_FIELDS:
        items: list[str] = getattr(post, name)
        if len(items) > bounds.max_list_items:
            raise OutOfBounds(name, f"{len(items)} items, limit {bounds.max_list_items}")
        for i, item in enumerate(items):
            _length(f"{name}[{i}]", item, bounds.max_field_chars)
    return post
