"""Emerging voices in the live pipeline: the leader feeds newly stored posts, in event-time
order, through the same :class:`VoiceTracker` that ``hypermicro voices`` and ``eval voices`` use,
raises one rising-voice digest per subject and tick, and stores ranking snapshots for the API.

Posts reach ClickHouse out of event-time order (several partitions, batches, a replay running
far ahead of wall time).  The tracker needs them in order, so stored posts wait in a buffer until
the event-time low watermark over partitions (minus ``lateness``) has passed them; when a tick
finds nothing new the stream is idle and the buffer is flushed.  A snapshot is written whenever
the tracker has changed and ``snapshot_every`` ticks have passed, and always when the stream goes
idle, so the stored ranking ends equal to ``hypermicro voices --posts`` on the same posts.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.core.brands import load_brands, tag_form
from pipeline.core.schema import Alert, RawPost
from pipeline.detect.voice_digest import DIGEST_WINDOW, digest_alerts, window_start
from pipeline.detect.voices import RisingVoice, VoiceTracker
from pipeline.storage.posts_table import voice_post_of
from pipeline.storage.repository import Repository

log = logging.getLogger(__name__)

__all__ = ["LiveVoices", "own_accounts_from_brands"]


class LiveVoices:
    """Feeds stored posts to a VoiceTracker; subjects are the post's brands plus ``*``."""

    def __init__(self, own_accounts: dict[str, set[str]] | None = None, snapshot_every: int = 6,
                 lateness: timedelta = timedelta(minutes=2), max_buffer: int = 200_000) -> None:
        self.tracker = VoiceTracker(own_accounts=own_accounts)
        self.snapshot_every = snapshot_every
        self.lateness = lateness
        self.max_buffer = max_buffer
        """Beyond this many waiting posts the oldest are fed regardless of the watermark."""
        self._version = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._buffer: list[tuple[datetime, str, RawPost, list[str]]] = []
        self._dirty = False
        self._since_snapshot = 0
        self._last_snapshot = 0.0
        self._windows: dict[tuple[str, datetime], dict[str, RisingVoice]] = {}
        """Rising voices of the current and previous digest windows, by (subject, window start)."""

    async def tick(self, repo: Repository, emit: Callable[[Alert], Awaitable[object]], public_url: str) -> int:
        """Feed newly stored posts (off the event loop), emit digests, snapshot when due."""
        loop = asyncio.get_running_loop()
        rising, fresh = await loop.run_in_executor(None, self._observe_new, repo)
        for alert in self._digests(rising, public_url):
            await emit(alert)
        self._since_snapshot += 1
        if self._dirty and (not fresh or self._since_snapshot >= self.snapshot_every):
            await loop.run_in_executor(None, self.snapshot, repo)
        return len(rising)

    def _digests(self, rising: list[RisingVoice], public_url: str) -> list[Alert]:
        """Digests of the (subject, window) pairs that got a new voice, with every voice of the
        window so far: a digest re-issued under the same id never loses the voices it had."""
        touched: set[str] = set()
        for rv in rising:
            key = (rv.subject, window_start(rv.at))
            self._windows.setdefault(key, {})[rv.author_id] = rv
            touched.add(Alert.make_id("rising_voice", f"voices:{key[0]}", key[1]))
        if not touched:
            return []
        latest = max(w for _, w in self._windows)
        for key in [k for k in self._windows if k[1] < latest - DIGEST_WINDOW]:
            del self._windows[key]
        starts = {window_start(rv.at) for rv in rising}
        window_voices = [rv for (_, w), d in self._windows.items() if w in starts for rv in d.values()]
        return [a for a in digest_alerts(window_voices, public_url) if a.id in touched]

    def _observe_new(self, repo: Repository) -> tuple[list[RisingVoice], int]:
        """Buffer rows stored since the last call; feed those the watermark has passed."""
        rows = repo.posts_since(self._version)
        fresh = 0
        for row in rows:
            self._version = max(self._version, int(row["_version"]))
            if row["id"] in self._seen:
                continue  # a redelivered post
            self._seen[row["id"]] = None
            if len(self._seen) > 200_000:
                self._seen.popitem(last=False)
            post: RawPost = voice_post_of(row)
            heapq.heappush(self._buffer, (post.created_at, post.id, post, ["*", *row["brands"]]))
            fresh += 1
        watermark = None if not fresh else repo.low_watermark()
        rising: list[RisingVoice] = []
        while self._buffer:
            at = self._buffer[0][0]
            waiting = len(self._buffer) > self.max_buffer
            if fresh and not waiting and (watermark is None or at > watermark - self.lateness):
                break  # may still be preceded by a post another partition has not stored yet
            _, _, post, subjects = heapq.heappop(self._buffer)
            rising += self.tracker.observe(post, subjects)
            self._dirty = True
        return rising, fresh

    def snapshot(self, repo: Repository) -> None:
        """Store the current ranking of every subject that has one.

        Snapshots are told apart by ``snapshot_at`` (whole seconds), so a second snapshot waits
        for the next second: two in one second would mix their rows."""
        wait = self._last_snapshot + 1.0 - time.time()
        if wait > 0:
            time.sleep(min(wait, 1.0))
        self._last_snapshot = float(int(time.time()))
        for subject in self.tracker.subjects():
            ranks = self.tracker.ranking(subject, k=20)
            if ranks:
                repo.replace_voices(subject, ranks)
        self._dirty = False
        self._since_snapshot = 0


def own_accounts_from_brands(brands_file: Path | str) -> dict[str, set[str]]:
    """Brand-owned handles (``@x`` in brands.yaml) are never emerging voices of their own brand.

    ``{brand id: handles without '@', lower-case}`` plus ``"*"``: every brand's handles. A brand
    that lists no handle owns the one its name makes (``United`` -> ``united``), which the brand
    matcher counts as a mention of it: otherwise replies to the brand's own account would rank it
    as a rising voice of itself. A missing file owns no accounts; an invalid one raises
    :class:`~pipeline.core.brands.BrandConfigError`.
    """
    if not Path(brands_file).exists():
        return {}
    out: dict[str, set[str]] = {}
    for brand in load_brands(brands_file):
        listed = brand.handles or [tag_form("@", brand.name)]
        handles = {h.lstrip("@").lower() for h in listed}
        out[brand.id] = handles
        out.setdefault("*", set()).update(handles)
    return out
