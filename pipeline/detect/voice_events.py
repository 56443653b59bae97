"""What the emerging-voices tracker reads from a post and what it reports.

:func:`events_from_post` turns a post into units of attention (replies, mentions, reposts,
quotes) to other authors plus the author's own ``post``; :class:`RisingVoice` and
:class:`VoiceRank` are the tracker's outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pipeline.core.schema import RawPost

__all__ = ["GLOBAL", "KINDS", "KIDX", "RisingVoice", "VoiceEvent", "VoiceKind", "VoiceRank", "dt_of",
           "events_from_post", "norm_ref", "ts_of"]

VoiceKind = Literal["post", "reply", "mention", "repost", "quote"]
KINDS: tuple[str, ...] = ("reply", "mention", "repost", "quote")
"""Attention kinds, in the order used inside the per-bin arrays."""
KIDX = {k: i for i, k in enumerate(KINDS)}
GLOBAL = "*"
"""The subject of every post."""


@dataclass
class VoiceEvent:
    """One unit of attention (or an own post) extracted from a post."""

    kind: VoiceKind
    source_id: str
    target: str
    """Author id (or ``@handle`` placeholder while unknown) receiving attention; for ``post`` the author."""
    at: datetime
    weight: float = 1.0
    post_ref: str | None = None
    """Post the attention points at, when the source post names it."""


@dataclass
class RisingVoice:
    """An author entering the top of a subject's emerging-voices ranking fast."""

    author_id: str
    handle: str
    subject: str
    score: float
    at: datetime
    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)
    """What was measured (people by kind, usual pace, followers, source, surprise...), for wording."""


@dataclass
class VoiceRank:
    """One row of the emerging-voices listing of a subject."""

    author_id: str
    handle: str
    subject: str
    score: float
    growth: float
    reach: float
    resonance: float
    relevance: float
    reasons: list[str]
    facts: dict[str, Any] = field(default_factory=dict)


def norm_ref(ref: str) -> str:
    return ref.strip().lstrip("@").lower()


def events_from_post(post: RawPost, resolve: Callable[[str], str] = norm_ref,
                     mention_cap: int = 3) -> list[VoiceEvent]:
    """Attention events a post gives to other authors plus its own ``post`` event.

    A target named several ways in one post counts once, with the strongest kind
    (reply > quote > mention > repost). ``resolve`` maps a reference to an author key.
    """
    me = post.author.id
    at = post.created_at
    found: dict[str, tuple[VoiceKind, float, str | None]] = {}

    def add(ref: str | None, kind: VoiceKind, weight: float, post_ref: str | None = None,
            is_id: bool = False) -> None:
        if not ref:
            return
        key = resolve(ref)
        if is_id and key.startswith("@"):  # an author-id field naming an unseen author
            key = ref.strip().lstrip("@")
        if not key or key == me or key == resolve(me):
            return
        order = {"reply": 0, "quote": 1, "mention": 2, "repost": 3}
        prev = found.get(key)
        if prev is None or order[kind] < order[prev[0]]:
            found[key] = (kind, weight, post_ref)

    add(post.reply_to_author, "reply", 1.0, post.reply_to_post, True)
    add(post.quote_of_author, "quote", 1.0, None, True)
    mentions = list(dict.fromkeys(m for m in post.mentions if m))
    if mentions:
        w = min(1.0, mention_cap / len(mentions))
        for m in mentions:
            add(m, "mention", w)
    add(post.repost_of_author, "repost", 1.0, post.repost_of_post, True)
    events = [VoiceEvent(kind="post", source_id=me, target=me, at=at)]
    for key, (kind, w, pref) in found.items():
        events.append(VoiceEvent(kind=kind, source_id=me, target=key, at=at, weight=w, post_ref=pref))
    return events


def ts_of(dt: datetime) -> float:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).timestamp()


def dt_of(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)
