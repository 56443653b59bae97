"""A rostered voice posting negatively about a brand is an alert to its owner, on the next
detector pass after the post is stored ("one negative comment and a brand feels the heat");
and each person's digest goes out once their period (hourly, daily, weekly) has ended.

Runs on the leader inside the live detector's loop: each pass reads the posts stored since the
last one by rostered accounts with a negative brand sentiment and emits one ``voice_negative``
alert per post, carrying the post text, addressed to the voice's owner (``alert.owners``; the
routing file says how that person is reached).  Alert ids are deterministic per post, so a
redelivered post or a restart never alerts twice."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.core.clock import utc_now
from pipeline.core.schema import Alert, AlertWindow, Evidence, SamplePost, Subject
from pipeline.relationships.digest import build_digest, digest_alert, period_of
from pipeline.relationships.people import load_people
from pipeline.storage.repository import Repository

log = logging.getLogger(__name__)

OVERLAP_US = 120 * 1_000_000
"""Each pass re-reads two minutes of insert clock: batches written concurrently can commit a
little out of ``_version`` order (seen post ids are skipped)."""
START_BACK_US = 15 * 60 * 1_000_000
"""A new leader looks 15 minutes back, so a post stored during a hand-over is not missed
(already-raised alert ids are skipped)."""


def negative_alert(row: dict[str, Any], voice: dict[str, Any], public_url: str) -> Alert:
    """The alert for one negative post ``row`` by rostered ``voice``."""
    brands = [b for b, s in zip(row["brands"], row["brand_sentiments"], strict=False) if s == "negative"]
    handle = "@" + row["author_handle"].lstrip("@")
    text = row["text"]
    quoted = text if len(text) <= 500 else text[:499] + "…"
    owner = voice["owner"]
    who = f"{handle} ({voice['stage']}{', owned by ' + owner if owner else ', no owner yet'})"
    return Alert(
        id=Alert.make_id("voice_negative", f"{voice['voice_id']}|{row['id']}", row["created_at"]),
        kind="voice_negative",
        subject=Subject(kind="author", id=voice["voice_id"], brand_id=brands[0] if brands else None),
        severity="warning", score=1.0,
        window=AlertWindow(start=row["created_at"], end=row["created_at"]),
        observed=1.0, expected=0.0,
        explanation=f"{who} posted negatively about {', '.join(brands)}:\n\u201c{quoted}\u201d",
        evidence=Evidence(
            post_ids=[row["id"]], authors=[handle],
            samples=[SamplePost(id=row["id"], author=handle, text=text[:2000], url=row["url"])],
            links=[f"{public_url.rstrip('/')}/#/roster/{voice['voice_id']}"],
            details={"brands": brands, "stage": voice["stage"]},
        ),
        owners=[owner] if owner else [],
    )


class RosterWatch:
    """Per-pass check of newly stored posts by rostered voices."""

    def __init__(self, public_url: str, people_file: Path | None = None) -> None:
        self.public_url = public_url
        self.people_file = people_file
        self.version: int | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._digested: dict[str, datetime] = {}
        """Per person, the start of the last period whose digest was sent or found empty."""

    def _digests(self, repo: Repository, now: datetime) -> list[Alert]:
        """Digests of periods that ended since the last look (one per person and period)."""
        store = repo.roster
        try:
            people = {p.name: p for p in load_people(self.people_file)}
        except (OSError, ValueError) as exc:  # the API-managed people still get their digests
            log.error("people file unusable: %s", exc)
            people = {}
        people.update({p.name: p for p in store.people()})
        due = []
        for person in people.values():
            period = period_of(person, now)
            if period is None or self._digested.get(person.name) == period[0]:
                continue
            digest = build_digest(store, repo.voice_posts, person.name, *period)
            self._digested[person.name] = period[0]  # after the read: a failed one is tried next pass
            if not digest.empty:
                due.append(digest_alert(digest, self.public_url))
        stored = repo.stored_alert_ids([a.id for a in due])
        return [a for a in due if a.id not in stored]

    def _scan(self, repo: Repository) -> list[Alert]:
        accounts = repo.roster.all_accounts()
        posts = repo.voice_posts
        digests = self._digests(repo, utc_now(whole_seconds=True))
        stored_until = posts.max_version()
        if self.version is None:
            self.version = max(0, stored_until - START_BACK_US)
        since, self.version = self.version, max(self.version, stored_until)
        if not accounts:
            return digests
        rows = posts.negative_since(list(accounts), max(0, since - OVERLAP_US))
        alerts = []
        for row in rows:
            if row["id"] in self._seen:
                continue
            self._seen[row["id"]] = None
            if len(self._seen) > 50_000:
                self._seen.popitem(last=False)
            voice = accounts.get(f"{row['source']}:{row['author_id']}")
            if voice is not None:
                alerts.append(negative_alert(row, voice, self.public_url))
        stored = repo.stored_alert_ids([a.id for a in alerts])
        return [a for a in alerts if a.id not in stored] + digests

    async def tick(self, repo: Repository, emit: Callable[[Alert], Awaitable[object]]) -> int:
        """Emit an alert for each new negative post by a rostered voice and the digests that are
        due; returns how many."""
        alerts = await asyncio.get_running_loop().run_in_executor(None, self._scan, repo)
        for alert in alerts:
            await emit(alert)
        return len(alerts)
