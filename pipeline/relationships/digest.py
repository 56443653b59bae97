"""The per-owner digest: for one person, what their voices did since the last digest —
new posts about our brands and topics, who is rising, who turned negative about a brand, and the
interactions and stage changes logged — delivered through the alert channels on the schedule
the person chose (``digest: hourly | daily | weekly | off``).

A digest covers one whole period ``[start, end)`` of the person's schedule (aligned to the epoch,
UTC) and has a deterministic alert id, so each period is sent at most once however many workers
or restarts look at it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.core.roster import DIGEST_PERIOD_S, Person
from pipeline.core.schema import Alert, AlertWindow, Evidence, SamplePost, Subject
from pipeline.storage.roster import RosterStore
from pipeline.storage.roster_posts import VoicePosts

MAX_POSTS = 20


@dataclass
class Digest:
    person: str
    start: datetime
    end: datetime
    voices: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    rising: list[dict[str, Any]] = field(default_factory=list)
    negative: list[dict[str, Any]] = field(default_factory=list)
    activity: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.posts or self.rising or self.negative or self.activity)

    def lines(self) -> list[str]:
        """The digest in plain words, one line each."""
        out = [f"Your {self.voices} voice{'s' if self.voices != 1 else ''}, "
               f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC:"]
        for n in self.negative:
            out.append(f"Turned negative: {n['handle']} about {', '.join(n['brands'])}: \u201c{n['text'][:200]}\u201d")
        for r in self.rising:
            out.append(f"Rising: @{r['handle'].lstrip('@')} (best rank {r['best_rank']})")
        for p in self.posts:
            about = ", ".join(p["brands"] + p["topics"])
            out.append(f"New post by @{p['author_handle'].lstrip('@')} about {about}: \u201c{p['text'][:200]}\u201d")
        out += [_activity_line(a) for a in self.activity]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"person": self.person, "start": self.start, "end": self.end, "voices": self.voices,
                "posts": self.posts, "rising": self.rising, "negative": self.negative, "activity": self.activity,
                "lines": self.lines()}


def _activity_line(a: dict[str, Any]) -> str:
    who, handle, after = a["by"], a["handle"], a.get("after") or {}
    if a["action"] == "interaction":
        return f"{who} {a['kind'].replace('_', ' ')} {handle}" + (f": {a['note'][:200]}" if a["note"] else "")
    if a["action"] == "stage":
        return f"{who} moved {handle} to {after.get('stage', '?')}"
    if a["action"] == "owner":
        return f"{who} made {after.get('owner') or 'nobody'} the owner of {handle}"
    return f"{who} added {handle} to the roster"


def period_of(person: Person, now: datetime) -> tuple[datetime, datetime] | None:
    """The last whole period of the person's schedule before ``now`` (None: digest off)."""
    seconds = DIGEST_PERIOD_S.get(person.digest)
    if seconds is None:
        return None
    epoch = int(now.timestamp())
    end = datetime.fromtimestamp(epoch - epoch % seconds, UTC)
    return end - timedelta(seconds=seconds), end


def build_digest(store: RosterStore, posts: VoicePosts, person: str, start: datetime, end: datetime) -> Digest:
    """What ``person``'s voices did in ``[start, end)`` (posts by when they were stored)."""
    _, voices = store.voices(owner=person, limit=10_000)
    digest = Digest(person, start, end, voices=len(voices))
    if not voices:
        return digest
    by_account = {a: v for v in voices for a in v["accounts"]}
    accounts = list(by_account)
    recent = [p for p in posts.recent(accounts, limit=500, stored_since=start) if p["enriched_at"] < end]
    negative: dict[str, dict[str, Any]] = {}
    for p in recent:
        bad = [b for b, s in zip(p["brands"], p["brand_sentiments"], strict=False) if s == "negative"]
        if bad:
            voice = by_account.get(f"{p['source']}:{p['author_id']}")
            key = voice["voice_id"] if voice else p["author_handle"]
            negative.setdefault(key, {"handle": "@" + p["author_handle"].lstrip("@"), "brands": bad, "text": p["text"],
                                      "id": p["id"]})
    digest.negative = list(negative.values())
    digest.posts = recent[:MAX_POSTS]
    digest.rising = posts.rising([a.partition(":")[2] for a in accounts], start)
    handles = {v["voice_id"]: (v["handles"] or [v["voice_id"]])[0] for v in voices}
    digest.activity = [{**a, "handle": handles.get(a["voice_id"], a["voice_id"])}
                       for a in store.interactions_since(list(handles), start) if a["at"] < end]
    return digest


def digest_alert(digest: Digest, public_url: str) -> Alert:
    """The digest as an ``owner_digest`` alert addressed to its person (one id per period)."""
    samples = [SamplePost(id=p["id"], author="@" + p["author_handle"].lstrip("@"), text=p["text"][:280], url=p["url"])
               for p in digest.posts[:5]]
    return Alert(
        id=Alert.make_id("owner_digest", digest.person, digest.start),
        kind="owner_digest",
        subject=Subject(kind="person", id=f"{digest.person}|{digest.start:%Y-%m-%dT%H:%M}"),
        severity="info", score=0.0,
        window=AlertWindow(start=digest.start, end=digest.end),
        observed=float(len(digest.posts)), expected=0.0,
        explanation="\n".join(digest.lines()),
        evidence=Evidence(post_ids=[p["id"] for p in digest.posts], samples=samples,
                          authors=list(dict.fromkeys("@" + p["author_handle"].lstrip("@") for p in digest.posts)),
                          links=[f"{public_url.rstrip('/')}/#/roster-digest/{digest.person}"]),
        owners=[digest.person],
    )
