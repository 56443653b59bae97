"""Stored posts, in event-time order, into a :class:`VoiceTracker`: the live loop's voice state.

Posts reach ClickHouse out of event-time order (several partitions, batches, a replay running
far ahead of wall time). The tracker needs them in order, so rows wait in a heap until the
event-time low watermark (minus ``lateness``) has passed them; a step that brings nothing new
means the stream is idle and flushes the heap. Redelivered posts (an id seen before) are
dropped. No I/O: the caller reads the rows and the watermark, so the whole state can live in
another process (``pipeline.runtime.voice_process``).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.core.schema import RawPost
from pipeline.detect.voices import RisingVoice, VoiceRank, VoiceTracker
from pipeline.storage.posts_table import voice_post_of

__all__ = ["LATENESS", "FeedStep", "VoiceFeed"]

LATENESS = timedelta(minutes=2)
"""How long a stored post waits behind the event-time watermark (other partitions may still be
storing older posts); the spike detector's default lateness."""
SEEN_IDS = 200_000
"""Post ids remembered to drop redeliveries (a redelivery comes within minutes, not days)."""


@dataclass(frozen=True)
class FeedStep:
    """What one :meth:`VoiceFeed.step` did: voices that rose, rows new to the feed, posts fed,
    rows left out because no post could be rebuilt from them."""

    rising: list[RisingVoice]
    fresh: int
    fed: int
    unreadable: int = 0


class VoiceFeed:
    """Orders stored ``posts`` rows (:data:`~pipeline.storage.posts_table.VOICE_COLUMNS`) by event
    time and feeds them to one tracker; subjects are each post's brands plus ``*``."""

    def __init__(self, own_accounts: dict[str, set[str]] | None = None,
                 lateness: timedelta = LATENESS, max_buffer: int = 200_000) -> None:
        self.tracker = VoiceTracker(own_accounts=own_accounts)
        self.lateness = lateness
        self.max_buffer = max_buffer
        """Beyond this many waiting posts the oldest are fed regardless of the watermark."""
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._buffer: list[tuple[datetime, str, RawPost, list[str]]] = []

    def step(self, rows: Sequence[dict[str, Any]], watermark: datetime | None) -> FeedStep:
        """Buffer ``rows`` (stored since the last step); feed what ``watermark`` has passed, or
        everything when no row was new (the stream is idle)."""
        fresh = unreadable = 0
        for row in rows:
            if row["id"] in self._seen:
                continue  # a redelivered post
            self._seen[row["id"]] = None
            if len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
            try:
                post = voice_post_of(row)
            except ValueError:  # e.g. a row written by hand with an invalid field: skip it, not the stream
                unreadable += 1
                continue
            heapq.heappush(self._buffer, (post.created_at, post.id, post, ["*", *row["brands"]]))
            fresh += 1
        rising: list[RisingVoice] = []
        fed = 0
        while self._buffer:
            at = self._buffer[0][0]
            waiting = len(self._buffer) > self.max_buffer
            if fresh and not waiting and (watermark is None or at > watermark - self.lateness):
                break  # may still be preceded by a post another partition has not stored yet
            _, _, post, subjects = heapq.heappop(self._buffer)
            rising += self.tracker.observe(post, subjects)
            fed += 1
        return FeedStep(rising, fresh, fed, unreadable)

    def rankings(self, k: int = 20) -> dict[str, list[VoiceRank]]:
        """The current ranking (best ``k``) of every subject that has one."""
        out = {}
        for subject in self.tracker.subjects():
            ranks = self.tracker.ranking(subject, k=k)
            if ranks:
                out[subject] = ranks
        return out

    def ranking(self, subject: str = "*", k: int = 20) -> list[VoiceRank]:
        """The current ranking of one subject."""
        return self.tracker.ranking(subject, k=k)
