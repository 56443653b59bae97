"""Plain words for emerging voices: why one author is rising, and one digest alert per subject.

The tracker measures; this module only words what it measured for people who are not
statisticians: @handles (never numeric ids), a link to the voice, counts of people and a usual
pace ("12 people replied to or mentioned @maria_k in the last 30 minutes; @maria_k usually gets
about 1 a day").  Statistical figures (surprise, p-value, rates) stay in ``details``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pipeline.core.schema import Alert, AlertWindow, Evidence, Subject
from pipeline.detect.voice_events import RisingVoice

__all__ = ["DIGEST_WINDOW", "digest_alerts", "display_name", "profile_url", "reasons", "why", "window_start"]

MAX_LISTED = 10
"""Voices written out in one digest; the rest are counted and listed in ``details`` and the dashboard."""
DIGEST_WINDOW = timedelta(minutes=30)
"""Rising voices of one subject whose alerts fall in the same 30 minutes share one digest
(the user's words: "3 rising voices about Nimbus in the last 30 min")."""

_PROFILE = {
    "twitter": "https://x.com/{h}", "x": "https://x.com/{h}", "bluesky": "https://bsky.app/profile/{h}",
    "reddit": "https://www.reddit.com/user/{h}", "hackernews": "https://news.ycombinator.com/user?id={h}",
}
_NOUN = {"reply": ("replied to", "reply", "replies"), "mention": ("mentioned", "mention", "mentions"),
         "repost": ("reposted", "repost", "reposts"), "quote": ("quoted", "quote", "quotes")}


def display_name(handle: str, author_id: str) -> str:
    """``@handle``; an author known only by an id is "an account without a known handle"."""
    h = (handle or (author_id[1:] if author_id.startswith("@") else "")).lstrip("@")
    return f"@{h}" if h else "an account without a known handle"


def profile_url(source: str, handle: str, author_id: str, dashboard: str, subject: str) -> str:
    """The voice's public profile when the source is known, else its row in the dashboard."""
    h = (handle or (author_id[1:] if author_id.startswith("@") else "")).lstrip("@")
    if h and source == "mastodon" and "@" in h:
        user, host = h.split("@", 1)
        return f"https://{host}/@{user}"
    if h and source in _PROFILE:
        return _PROFILE[source].format(h=h)
    return f"{dashboard.rstrip('/')}/#/voices?subject={subject}"


def _count(n: float) -> str:
    x = float(n)
    return f"{x / 1e6:.1f}M" if x >= 1e6 else f"{x / 1e3:.1f}k" if x >= 1e3 else f"{x:.0f}"


def usual_pace(per_hour: float) -> str:
    """An author's usual attention in words: "almost none", "about 2 a day", "about 5 an hour"."""
    per_day = per_hour * 24.0
    if per_day < 0.5:
        return "almost none"
    if per_day < 48:
        return f"about {max(1, round(per_day))} a day"
    return f"about {round(per_hour)} an hour"


def why(facts: Mapping[str, Any], window_min: float = 30.0, named: bool = True) -> str:
    """One sentence: who paid attention lately, against the author's usual pace (``named=False``
    says "them"/"they" where the line already starts with the handle)."""
    name = display_name(str(facts.get("handle", "")), str(facts.get("author_id", "")))
    obj, subj, verb = (name, name, "gets") if named else ("them", "they", "get")
    by_kind = {k: int(round(float(facts.get(f"people_{k}", 0)))) for k in _NOUN}
    people = sum(by_kind.values())
    kinds = [k for k, n in sorted(by_kind.items(), key=lambda kv: -kv[1]) if n > 0]
    if not kinds:
        lead = f"Nobody new engaged with {obj} in the last {window_min:.0f} minutes"
    else:
        verbs = " or ".join(_NOUN[k][0] for k in kinds[:2]) + (" or shared" if len(kinds) > 2 else "")
        who = "1 person" if people == 1 else f"{people} people"
        lead = f"{who} {verbs} {obj} in the last {window_min:.0f} minutes"
    return f"{lead}; {subj} usually {verb} {usual_pace(float(facts.get('usual_per_h', 0.0)))}"


def reasons(facts: Mapping[str, Any], subject: str, window_min: float = 30.0) -> list[str]:
    """Plain-words reasons for a ranked or rising voice, most telling first."""
    out = [why(facts, window_min)]
    since = facts.get("rising_since")
    if isinstance(since, datetime):
        out.append(f"attention started growing at {since:%H:%M} UTC")
    out.append(f"{_count(float(facts.get('followers', 0)))} followers")
    if float(facts.get("resonance", 0)) > 0:
        out.append(f"their posts get a median of {_count(float(facts['resonance']))} likes, shares and "
                   f"replies (last {int(facts.get('n_posts', 0))} posts)")
    if subject != "*":
        out.append(f"{float(facts.get('relevance', 0)):.0%} of their activity is about {subject}")
    if float(facts.get("conversational", 1.0)) < 0.4:
        out.append("mostly reposts and quotes rather than replies and mentions")
    if float(facts.get("concentration", 0.0)) > 0.5:
        out.append(f"{float(facts['concentration']):.0%} of the attention is on a single post")
    return out


def _headline(n: int, subject: str, names: Mapping[str, str]) -> str:
    about = "" if subject == "*" else f" about {names.get(subject, subject)}"
    voices = "1 rising voice" if n == 1 else f"{n} rising voices"
    return f"{voices}{about} in the last {DIGEST_WINDOW.total_seconds() / 60:.0f} min"


def digest_alerts(rising: Iterable[RisingVoice], public_url: str, names: Mapping[str, str] | None = None) -> list[Alert]:
    """One ``rising_voice`` alert per subject and 30-minute window, listing its voices best first.

    A voice already listed for a brand in a window is left out of the ``*`` digest of that window.
    The alert id depends on subject and window only, so a later pass that finds more voices in
    the same window re-issues the same digest with more voices (an escalation, not a new alert).
    """
    names = names or {}
    groups: dict[tuple[str, datetime], list[Any]] = {}
    for rv in rising:
        start = window_start(rv.at)
        groups.setdefault((rv.subject, start), []).append(rv)
    branded = {(rv.author_id, start) for (s, start), rvs in groups.items() if s != "*" for rv in rvs}
    out: list[Alert] = []
    for (subject, start), rvs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if subject == "*":
            rvs = [rv for rv in rvs if (rv.author_id, start) not in branded]
        if rvs:
            out.append(_digest(subject, start, rvs, public_url, names))
    return out


def window_start(at: datetime) -> datetime:
    """Start of the 30-minute digest window holding ``at``."""
    step = DIGEST_WINDOW.total_seconds()
    return datetime.fromtimestamp(math.floor(at.timestamp() / step) * step, tz=at.tzinfo)


def _digest(subject: str, start: datetime, rvs: Sequence[RisingVoice], public_url: str,
            names: Mapping[str, str]) -> Alert:
    rvs = sorted({rv.author_id: rv for rv in rvs}.values(), key=lambda rv: -rv.score)
    brand = None if subject == "*" else subject
    lines, links, authors, details = [_headline(len(rvs), subject, names) + ":"], [], [], []
    for i, rv in enumerate(rvs):
        facts = {**rv.facts, "handle": rv.handle, "author_id": rv.author_id}
        name = display_name(rv.handle, rv.author_id)
        link = profile_url(str(facts.get("source", "")), rv.handle, rv.author_id, public_url, subject)
        if i < MAX_LISTED:
            lines.append(f"- {name} ({_count(float(facts.get('followers', 0)))} followers): "
                         f"{why(facts, named=False)}. {link}")
        links.append(link)
        authors.append(name)
        details.append({"author_id": rv.author_id, "handle": rv.handle, "score": round(rv.score, 3),
                        **{k: v for k, v in facts.items() if isinstance(v, int | float | str)}})
    if len(rvs) > MAX_LISTED:
        lines.append(f"…and {len(rvs) - MAX_LISTED} more: {public_url.rstrip('/')}/#/voices?subject={subject}")
    end = max(rv.at for rv in rvs)
    return Alert(
        id=Alert.make_id("rising_voice", f"voices:{subject}", start),
        kind="rising_voice",
        subject=Subject(kind="author", id=f"voices:{subject}", brand_id=brand),
        severity="info",
        score=max(rv.score for rv in rvs),
        window=AlertWindow(start=min(start, end - DIGEST_WINDOW), end=end),
        observed=float(len(rvs)), expected=0.0,
        explanation="\n".join(lines),
        evidence=Evidence(authors=authors, links=links, details={"voices": details}),
    )
