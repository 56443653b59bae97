"""The voice profile: what makes listening fast, counted from one read of the voice's posts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from pipeline.relationships.roster import SUGGEST_LOOKBACK_DAYS, Roster


def voice_profile(roster: Roster, voice_id: str) -> dict[str, Any]:
    """Recent posts about our brands/topics (sentiment toward each brand), topics and brands and
    conversations they take part in (last 30 days of their posts), posts and engagement per day,
    who amplifies them, the history of our interactions and the suggested owner with reasons."""
    row = roster.store.voice(voice_id)
    if row is None:
        raise LookupError(f"no voice {voice_id!r} on the roster")
    acc = row["accounts"]
    facts = roster.posts.facts(acc)
    window = [f for f in facts if f["created_at"] >= facts[0]["created_at"] - timedelta(days=SUGGEST_LOOKBACK_DAYS)] if facts else []
    topics = Counter(t for f in window for t in set(f["topics"]))
    brands = Counter(b for f in window for b in set(f["brands"]))
    convs = Counter(f["conversation_id"] for f in facts if f["conversation_id"]).most_common(10)
    labels = roster.posts.conversation_labels([c for c, _ in convs])
    days: dict[str, list[int]] = {}
    for f in window:
        day = days.setdefault(f["created_at"].date().isoformat(), [0, 0])
        day[0] += 1
        day[1] += int(f["engagement"])
    suggestion = roster.suggest(dict(topics), dict(brands))
    return {
        "voice": row,
        "recent": roster.posts.recent(acc, limit=20),
        "topics": sorted(topics.items(), key=lambda x: (-x[1], x[0])),
        "brands": sorted(brands.items(), key=lambda x: (-x[1], x[0])),
        "conversations": [{"conversation_id": c, "posts": n, "label": labels.get(c, "")} for c, n in convs],
        "attention": [{"day": d, "posts": v[0], "engagement": v[1]} for d, v in sorted(days.items())],
        "amplifiers": roster.posts.amplifiers([a.partition(":")[2] for a in acc], row["handles"]),
        "history": roster.store.history(voice_id),
        "suggestion": {"person": suggestion.person, "score": suggestion.score, "reasons": list(suggestion.reasons)}
        if suggestion else None,
    }
