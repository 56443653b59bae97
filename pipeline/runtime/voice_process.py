"""The emerging-voices feed in a process of its own.

Feeding a detector pass's posts to the voice tracker is pure Python: 10,000-20,000 posts a pass
under load, seconds of interpreter-lock time that tagging and Kafka handling wait for when it
runs in the worker's process. Here a child process (started on the leader's first pass, spawned,
not forked: the worker has threads) holds the :class:`~pipeline.detect.voice_feed.VoiceFeed`; the
worker sends it the rows it read and gets back the voices that rose and the rankings to store.

If the child dies, its tracker state is gone: the next call raises
:class:`~pipeline.detect.live_voices.FeedLost`, the leader reads every stored post again (as a new
leader does) and a fresh child is started.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any, TypeVar

from pipeline.detect.live_voices import FeedLost
from pipeline.detect.voice_feed import FeedStep, VoiceFeed
from pipeline.detect.voices import VoiceRank

__all__ = ["ProcessFeed"]

T = TypeVar("T")

PARENT_CHECK_S = 1.0
"""How often the child checks that the worker is still there."""

_FEED: VoiceFeed | None = None
"""The child's feed (set by :func:`_start` in the child process only)."""


def _start(own_accounts: dict[str, set[str]] | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the worker, which stops this child
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True, name="voice-parent-watch").start()
    global _FEED
    _FEED = VoiceFeed(own_accounts)


def _exit_with(parent: int) -> None:
    """End this process once ``parent`` is gone (a killed worker cannot stop it)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _feed() -> VoiceFeed:
    assert _FEED is not None, "called outside the voice process"
    return _FEED


def _step(rows: Sequence[dict[str, Any]], watermark: datetime | None) -> FeedStep:
    return _feed().step(rows, watermark)


def _rankings(k: int) -> dict[str, list[VoiceRank]]:
    return _feed().rankings(k)


def _ranking(subject: str, k: int) -> list[VoiceRank]:
    return _feed().ranking(subject, k)


class ProcessFeed:
    """A :class:`VoiceFeed` in a child process (a :class:`~pipeline.detect.live_voices.FeedHost`)."""

    def __init__(self, own_accounts: dict[str, set[str]] | None = None) -> None:
        self._initargs = (own_accounts,)
        self._pool: ProcessPoolExecutor | None = None

    async def step(self, rows: Sequence[dict[str, Any]], watermark: datetime | None) -> FeedStep:
        return await self._call(_step, rows, watermark)

    async def rankings(self, k: int) -> dict[str, list[VoiceRank]]:
        return await self._call(_rankings, k)

    async def ranking(self, subject: str, k: int) -> list[VoiceRank]:
        return await self._call(_ranking, subject, k)

    @property
    def pid(self) -> int | None:
        """The child's process id (None until the first call starts it)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return next(iter(procs), None)

    def close(self) -> None:
        """Stop the child (its state is not kept: a restarted leader reads the stored posts again)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start, initargs=self._initargs)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool as exc:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=False, cancel_futures=True)
            raise FeedLost(f"the voice process ended: {exc}") from exc
