"""Trending conversations: rank conversations by velocity and acceleration, per subject and overall.

``velocity`` is posts per hour over the last ``window_min``; ``acceleration`` is the change of
velocity against the window before it, per hour (posts/h²); ``score`` is
``velocity + accel_weight * max(0, velocity - previous velocity)`` (posts per hour), so a
conversation that is both busy and speeding up ranks first while a steady one keeps its pace as
score.  Conversations with fewer than ``min_count`` posts in the window are not listed.

:class:`TrendRanker` keeps per-minute buckets online (bounded: idle conversations are evicted);
:func:`rank_from_counts` applies the same scoring to ``(conversation_id, bucket_start, count)``
rows, e.g. read from ClickHouse's ``conversation_minute`` table.  A bucket belongs to the current
window when it starts in ``[now - window, now]`` and to the previous one when it starts in
``[now - 2 window, now - window)``; buckets starting after ``now`` are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["TrendConfig", "TrendRanker", "TrendingConversation", "rank_from_counts", "score_buckets"]


@dataclass
class TrendConfig:
    """Tunables of trending-conversation ranking."""

    bucket_s: float = 60.0
    """Bucket width of the online counter (seconds)."""
    window_min: float = 15.0
    """Velocity window (minutes); acceleration compares it with the window before."""
    accel_weight: float = 1.0
    """Weight of the velocity increase in the score."""
    min_count: int = 3
    """Posts needed in the current window to be listed."""
    max_conversations: int = 50_000
    """Per subject; the least recently active are evicted beyond this."""


@dataclass
class TrendingConversation:
    """One row of a trending ranking."""

    conversation_id: str
    velocity: float
    """Posts per hour over the last window."""
    acceleration: float
    """Velocity change vs the previous window, per hour (posts/h²)."""
    count: int
    """Posts in the current and previous windows."""
    score: float


def _ts(dt: datetime) -> float:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).timestamp()


def score_buckets(conversation_id: str, counts: Iterable[tuple[float, int]], now: float,
                  config: TrendConfig | None = None) -> TrendingConversation | None:
    """Score one conversation from ``(bucket_start_epoch_s, count)`` pairs; ``None`` if too quiet."""
    cfg = config or TrendConfig()
    w = cfg.window_min * 60.0
    cur = prev = 0
    for start, n in counts:
        age = now - start
        if age < 0:
            continue  # the future is not used
        if age <= w:  # buckets starting in [now - w, now]
            cur += int(n)
        elif age <= 2 * w:
            prev += int(n)
    if cur < cfg.min_count:
        return None
    w_h = w / 3600.0
    v, v_prev = cur / w_h, prev / w_h
    return TrendingConversation(
        conversation_id=conversation_id, velocity=v, acceleration=(v - v_prev) / w_h,
        count=cur + prev, score=v + cfg.accel_weight * max(0.0, v - v_prev))


def _rank(items: Iterable[TrendingConversation | None], k: int) -> list[TrendingConversation]:
    rows = [r for r in items if r is not None]
    rows.sort(key=lambda r: (-r.score, -r.velocity, r.conversation_id))
    return rows[:k]


def rank_from_counts(rows: Iterable[tuple[str, datetime, int]], now: datetime, *,
                     config: TrendConfig | None = None, k: int = 20) -> list[TrendingConversation]:
    """Rank conversations from ``(conversation_id, bucket_start, count)`` rows (any bucket width)."""
    per: dict[str, list[tuple[float, int]]] = {}
    for cid, start, n in rows:
        per.setdefault(str(cid), []).append((_ts(start), int(n)))
    t = _ts(now)
    return _rank((score_buckets(cid, c, t, config) for cid, c in per.items()), k)


class TrendRanker:
    """Online per-subject trending ranking; ``"*"`` is the global ranking."""

    def __init__(self, config: TrendConfig | None = None) -> None:
        self.config = config or TrendConfig()
        self._buckets: dict[str, dict[str, dict[int, int]]] = {}
        self._last: dict[str, dict[str, float]] = {}
        self._now = 0.0

    def observe(self, conversation_id: str, ts: datetime, subjects: Sequence[str] = ("*",)) -> None:
        """Count one post of ``conversation_id`` at ``ts`` for each subject (and nothing else)."""
        cfg = self.config
        t = _ts(ts)
        self._now = max(self._now, t)
        b = int(t // cfg.bucket_s)
        keep = int(2 * cfg.window_min * 60.0 // cfg.bucket_s) + 2
        for s in dict.fromkeys(subjects):
            conv = self._buckets.setdefault(s, {}).setdefault(conversation_id, {})
            conv[b] = conv.get(b, 0) + 1
            for old in [x for x in conv if x < b - keep]:
                del conv[old]
            last = self._last.setdefault(s, {})
            last[conversation_id] = max(t, last.get(conversation_id, t))
            if len(last) > cfg.max_conversations:
                self._evict(s)

    def _evict(self, subject: str) -> None:
        cfg = self.config
        horizon = self._now - 2 * cfg.window_min * 60.0
        last = self._last[subject]
        drop = [c for c, t in last.items() if t < horizon]
        if len(last) - len(drop) > cfg.max_conversations:
            rest = sorted((c for c in last if c not in set(drop)), key=last.__getitem__)
            drop += rest[: len(last) - len(drop) - cfg.max_conversations]
        for c in drop:
            last.pop(c, None)
            self._buckets[subject].pop(c, None)

    def top(self, subject: str = "*", now: datetime | None = None, k: int = 20) -> list[TrendingConversation]:
        """The ``k`` trending conversations of ``subject`` at ``now`` (default: latest post seen)."""
        cfg = self.config
        t = _ts(now) if now is not None else self._now
        convs = self._buckets.get(subject, {})
        return _rank((score_buckets(c, ((b * cfg.bucket_s, n) for b, n in bk.items()), t, cfg)
                      for c, bk in convs.items()), k)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state."""
        return {"config": asdict(self.config), "now": self._now,
                "buckets": {s: {c: [[b, n] for b, n in sorted(bk.items())] for c, bk in convs.items()}
                            for s, convs in self._buckets.items()},
                "last": self._last}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrendRanker:
        """Rebuild from :meth:`to_dict` output."""
        tr = cls(TrendConfig(**d["config"]))
        tr._now = float(d["now"])
        tr._buckets = {s: {c: {int(b): int(n) for b, n in rows} for c, rows in convs.items()}
                       for s, convs in d["buckets"].items()}
        tr._last = {s: {c: float(t) for c, t in v.items()} for s, v in d["last"].items()}
        return tr
