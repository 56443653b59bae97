"""Emerging voices in the live pipeline: the leader feeds newly stored posts, in event-time
order, through the same :class:`VoiceTracker` that ``hypermicro voices`` and ``eval voices`` use,
raises one rising-voice digest per subject and tick, and stores ranking snapshots for the API.

The tracker and its event-time buffer (:class:`~pipeline.detect.voice_feed.VoiceFeed`) live in a
*feed host*: :class:`LocalFeed` runs them in this process; the worker runs them in a process of
their own (``pipeline.runtime.voice_process``), so feeding tens of thousands of posts does not
take the interpreter lock from tagging. The loop here only reads (rows since the last tick, the
watermark), emits and stores. A snapshot is written whenever the tracker has changed and
``snapshot_every`` ticks have passed, and always when the stream goes idle, so the stored
ranking ends equal to ``hypermicro voices --posts`` on the same posts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.core.brands import load_brands, tag_form
from pipeline.core.schema import Alert
from pipeline.detect.voice_digest import DIGEST_WINDOW, digest_alerts, window_start
from pipeline.detect.voice_feed import FeedStep, VoiceFeed
from pipeline.detect.voices import RisingVoice, VoiceRank
from pipeline.storage.repository import Repository

log = logging.getLogger(__name__)

__all__ = ["FeedHost", "FeedLost", "LiveVoices", "LocalFeed", "own_accounts_from_brands"]


class FeedLost(RuntimeError):
    """The feed host lost its state (its process died): the caller must feed everything again."""


class FeedHost(Protocol):
    """Where a :class:`VoiceFeed` runs; each call may raise :class:`FeedLost`."""

    async def step(self, rows: Sequence[dict[str, Any]], watermark: datetime | None) -> FeedStep: ...

    async def rankings(self, k: int) -> dict[str, list[VoiceRank]]: ...

    async def ranking(self, subject: str, k: int) -> list[VoiceRank]: ...

    def close(self) -> None: ...


class LocalFeed:
    """A :class:`VoiceFeed` in this process, called off the event loop."""

    def __init__(self, own_accounts: dict[str, set[str]] | None = None) -> None:
        self.feed = VoiceFeed(own_accounts)

    async def step(self, rows: Sequence[dict[str, Any]], watermark: datetime | None) -> FeedStep:
        return await asyncio.get_running_loop().run_in_executor(None, self.feed.step, rows, watermark)

    async def rankings(self, k: int) -> dict[str, list[VoiceRank]]:
        return await asyncio.get_running_loop().run_in_executor(None, self.feed.rankings, k)

    async def ranking(self, subject: str, k: int) -> list[VoiceRank]:
        return await asyncio.get_running_loop().run_in_executor(None, self.feed.ranking, subject, k)

    def close(self) -> None:
        """Nothing to release."""


class LiveVoices:
    """Feeds stored posts to a voice feed host; subjects are the post's brands plus ``*``."""

    def __init__(self, host: FeedHost | None = None, snapshot_every: int = 6) -> None:
        self.host: FeedHost = host if host is not None else LocalFeed()
        self.snapshot_every = snapshot_every
        self._version = 0
        self._dirty = False
        self._since_snapshot = 0
        self._last_snapshot = 0.0
        self._windows: dict[tuple[str, datetime], dict[str, RisingVoice]] = {}
        """Rising voices of the current and previous digest windows, by (subject, window start)."""

    async def tick(self, repo: Repository, emit: Callable[[Alert], Awaitable[object]], public_url: str) -> int:
        """Feed newly stored posts, emit digests, snapshot when due; returns the voices that rose."""
        loop = asyncio.get_running_loop()
        rows, watermark = await loop.run_in_executor(None, self._read_new, repo)
        try:
            step = await self.host.step(rows, watermark)
        except FeedLost as exc:
            self._start_over(exc)
            return 0
        if rows:
            self._version = max(self._version, int(rows[-1]["_version"]))
        if step.unreadable:
            log.warning("emerging voices left out %d stored posts that could not be read back", step.unreadable)
        self._dirty = self._dirty or step.fed > 0
        for alert in self._digests(step.rising, public_url):
            await emit(alert)
        self._since_snapshot += 1
        if self._dirty and (not step.fresh or self._since_snapshot >= self.snapshot_every):
            try:
                await self.snapshot(repo)
            except FeedLost as exc:
                self._start_over(exc)
        return len(step.rising)

    def _start_over(self, exc: FeedLost) -> None:
        """The host lost the tracker: the next tick feeds every stored post again (as a new leader)."""
        log.error("emerging voices lost their state (%s): feeding every stored post again", exc)
        self._version = 0

    async def ranking(self, subject: str = "*", k: int = 20) -> list[VoiceRank]:
        """The tracker's current ranking of ``subject``."""
        return await self.host.ranking(subject, k)

    def close(self) -> None:
        """Release the feed host (its process, if it has one)."""
        self.host.close()

    def _read_new(self, repo: Repository) -> tuple[list[dict[str, Any]], datetime | None]:
        """Rows stored since the last tick (insert order) and, if any, the event-time watermark."""
        rows = repo.posts_since(self._version)
        return rows, (repo.low_watermark() if rows else None)

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

    async def snapshot(self, repo: Repository) -> None:
        """Store the current ranking of every subject that has one.

        Snapshots are told apart by ``snapshot_at`` (whole seconds), so a second snapshot waits
        for the next second: two in one second would mix their rows."""
        rankings = await self.host.rankings(20)
        wait = self._last_snapshot + 1.0 - time.time()
        if wait > 0:
            await asyncio.sleep(min(wait, 1.0))
        self._last_snapshot = float(int(time.time()))
        await asyncio.get_running_loop().run_in_executor(None, _store_rankings, repo, rankings)
        self._dirty = False
        self._since_snapshot = 0


def _store_rankings(repo: Repository, rankings: dict[str, list[VoiceRank]]) -> None:
    for subject, ranks in rankings.items():
        repo.replace_voices(subject, ranks)


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
