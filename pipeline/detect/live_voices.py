"""Emerging voices in the live pipeline: the leader replays newly stored posts, in time order,
through the same :class:`VoiceTracker` that ``hypermicro eval voices`` uses, raises rising-voice
alerts and stores ranking snapshots for the API."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pipeline.detect.voices import RisingVoice, VoiceTracker
from pipeline.schema import Alert, AlertWindow, Evidence, Subject
from pipeline.storage.repository import posts_since, raw_post_of

log = logging.getLogger(__name__)


def rising_voice_alert(rv: RisingVoice, public_url: str) -> Alert:
    brand = None if rv.subject == "*" else rv.subject
    return Alert(
        id=Alert.make_id("rising_voice", f"{rv.subject}:{rv.author_id}", rv.at),
        kind="rising_voice",
        subject=Subject(kind="author", id=rv.author_id, brand_id=brand),
        severity="info" if rv.score < 15 else "warning",
        score=rv.score,
        window=AlertWindow(start=rv.at - timedelta(minutes=30), end=rv.at),
        observed=rv.score, expected=0.0,
        explanation=f"@{rv.handle or rv.author_id} is a rising voice"
                    f"{' about ' + brand if brand else ''}: " + "; ".join(rv.reasons[:2]),
        evidence=Evidence(authors=[rv.handle or rv.author_id], details={"reasons": rv.reasons},
                          links=[f"{public_url.rstrip('/')}/#/voices?subject={rv.subject}"]),
    )


class LiveVoices:
    """Feeds stored posts to a VoiceTracker; subjects are the post's brands plus ``*``."""

    def __init__(self, own_accounts: dict[str, set[str]] | None = None, snapshot_every: int = 6) -> None:
        self.tracker = VoiceTracker(own_accounts=own_accounts)
        self._version = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._ticks = 0
        self.snapshot_every = snapshot_every

    async def tick(self, repo: Any, emit: Callable[[Alert], Awaitable[Any]], public_url: str) -> int:
        """Replay newly stored posts (off the event loop), then emit the rising-voice alerts."""
        loop = asyncio.get_running_loop()
        rising, stored = await loop.run_in_executor(None, self._observe_new, repo)
        for rv in rising:
            await emit(rising_voice_alert(rv, public_url))
        self._ticks += 1
        if stored and self._ticks % self.snapshot_every == 0:
            await loop.run_in_executor(None, self.snapshot, repo)
        return len(rising)

    def _observe_new(self, repo: Any) -> tuple[list[RisingVoice], int]:
        rows = posts_since(repo, self._version)
        rows.sort(key=lambda r: r["created_at"])
        rising: list[RisingVoice] = []
        for row in rows:
            self._version = max(self._version, int(row["_version"]))
            if row["id"] in self._seen:
                continue  # a redelivered post
            self._seen[row["id"]] = None
            if len(self._seen) > 200_000:
                self._seen.popitem(last=False)
            rising += self.tracker.observe(raw_post_of(row), ["*", *row["brands"]])
        return rising, len(rows)

    def snapshot(self, repo: Any) -> None:
        for subject in self.tracker.subjects():
            ranks = self.tracker.ranking(subject, k=20)
            if ranks:
                repo.replace_voices(subject, ranks)


def own_accounts_from_brands(brands_file: Any) -> dict[str, set[str]]:
    """Brand-owned handles (``@x`` in brands.yaml) are never emerging voices of their own brand."""
    import yaml

    try:
        with open(brands_file, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh) or {}
    except OSError:
        return {}
    out: dict[str, set[str]] = {}
    for b in doc.get("brands", []):
        handles = {h.lstrip("@").lower() for h in b.get("handles", [])}
        out[b["id"]] = handles
        out.setdefault("*", set()).update(handles)
    return out
