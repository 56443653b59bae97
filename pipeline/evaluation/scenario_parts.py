"""Building blocks of the synthetic scenarios (:mod:`pipeline.evaluation.scenario`): accounts,
and a post generator with the arrival processes (Poisson, thinned inhomogeneous Poisson),
engagement counts and attention posts (reply, mention, repost, quote) every part draws from.
All randomness comes from the generator's ``rng``, in call order, so a seed fixes a scenario."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

__all__ = ["BRANDS", "Account", "PickAccounts", "PostGenerator", "RateFn", "modulation"]

RateFn = Callable[[float], float]
"""Events per hour at ``t`` seconds from the start."""


class PickAccounts(Protocol):
    """Draws ``n`` background accounts."""

    def __call__(self, n: int = 1) -> list[Account]: ...


BRANDS = [
    ("acme", "Acme"), ("voltcart", "Voltcart"), ("nimbus", "Nimbus Air"), ("orbit", "Orbit Bank"),
    ("pixelo", "Pixelo"), ("brewly", "Brewly"), ("zentra", "Zentra Mobile"), ("lumen", "Lumen Foods"),
]
_SYL = ["ka", "lo", "mi", "ra", "to", "ne", "su", "vi", "an", "el", "or", "ix", "ba", "de", "fu",
        "go", "ha", "ju", "ke", "ly", "mo", "pa", "qi", "ro", "sa", "ti", "ur", "ve", "wo", "ze"]
_TOPICS = ["delivery", "price", "app", "support", "update", "battery", "refund", "launch",
           "outage", "quality", "service", "design", "subscription", "store", "ad"]
_OPINIONS = ["love", "hate", "can't believe", "finally tried", "thinking about", "disappointed by",
             "impressed with", "confused about", "waiting for", "switching from"]


@dataclass
class Account:
    """A synthetic account; ``role`` says which part of the scenario it plays."""

    id: str
    handle: str
    followers: int
    role: str

    def as_author(self) -> dict[str, Any]:
        """The post's ``author`` object."""
        return {"id": self.id, "handle": self.handle, "followers": int(self.followers)}


@dataclass
class PostGenerator:
    """Emits the posts of one scenario (``posts``, JSONL interchange form plus ``_t`` seconds)."""

    rng: np.random.Generator
    start: datetime
    duration_s: float
    brand_id: str
    brand_name: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    used_handles: set[str] = field(default_factory=set)
    next_id: int = 0

    # -- helpers -------------------------------------------------------------------------
    def handle(self) -> str:
        while True:
            n = int(self.rng.integers(2, 4))
            h = "".join(self.rng.choice(_SYL, size=n)) + (
                str(int(self.rng.integers(0, 999))) if self.rng.random() < 0.5 else "")
            if h not in self.used_handles:
                self.used_handles.add(h)
                return h

    def acct(self, role: str, followers: float) -> Account:
        self.next_id += 1
        aid = str(10_000_000 + int(self.rng.integers(0, 89_999_999)))
        return Account(id=f"{aid}{self.next_id}", handle=self.handle(), followers=max(0, int(followers)),
                     role=role)

    def ref(self, a: Account) -> str:
        """How a post names another account in ``mentions``: a handle (with or without @) or an id."""
        u = self.rng.random()
        return f"@{a.handle}" if u < 0.6 else (a.handle if u < 0.9 else a.id)

    def text(self, extra: str = "") -> str:
        r = self.rng
        parts = [str(r.choice(_OPINIONS)), self.brand_name, str(r.choice(_TOPICS))]
        if r.random() < 0.4:
            parts.append(f"#{self.brand_id}")
        return " ".join(parts + ([extra] if extra else []))

    def emit(self, t: float, author: Account, *, reply_to: Account | None = None,
             mentions: list[str] | None = None, repost_of: Account | None = None,
             quote_of: Account | None = None, engagement: tuple[int, int, int] = (0, 0, 0),
             text: str | None = None, past: bool = False) -> None:
        if not (0.0 <= t < self.duration_s or (past and t < 0.0)):
            return
        ts = self.start + timedelta(seconds=float(t))
        self.posts.append({
            "id": f"{len(self.posts) + 1}-{int(self.rng.integers(0, 1_000_000))}",
            "source": "synthetic",
            "created_at": ts.isoformat().replace("+00:00", "Z"),
            "text": text if text is not None else self.text(),
            "author": author.as_author(),
            "reply_to_author": reply_to.id if reply_to else None,
            "mentions": mentions or [],
            "repost_of_author": repost_of.id if repost_of else None,
            "quote_of_author": quote_of.id if quote_of else None,
            "engagement": {"likes": int(engagement[0]), "reposts": int(engagement[1]),
                           "replies": int(engagement[2])},
            "lang": "en",
            "_t": float(t),
        })

    def emit_past(self, t: float, author: Account, *, reply_to: Account | None = None) -> None:
        """A post before the stream's window (``t`` < 0 seconds from the start)."""
        self.emit(t, author, reply_to=reply_to, past=True)

    def poisson_times(self, rate_per_h: float, t0: float = 0.0, t1: float | None = None) -> np.ndarray:
        t1 = self.duration_s if t1 is None else t1
        if rate_per_h <= 0 or t1 <= t0:
            return np.empty(0)
        n = int(self.rng.poisson(rate_per_h * (t1 - t0) / 3600.0))
        return np.sort(self.rng.uniform(t0, t1, size=n))

    def thinned_times(self, rate_fn: RateFn, max_rate_per_h: float, t0: float = 0.0) -> np.ndarray:
        """Inhomogeneous Poisson arrivals by thinning (``rate_fn(t)`` in events per hour)."""
        cand = self.poisson_times(max_rate_per_h, t0)
        if cand.size == 0:
            return cand
        keep = self.rng.random(cand.size) * max_rate_per_h <= np.array([rate_fn(t) for t in cand])
        return cand[keep]

    def engagement(self, followers: float, scale: float) -> tuple[int, int, int]:
        r = self.rng
        base = scale * (0.3 + math.sqrt(max(followers, 0.0)) * 0.02) * float(r.lognormal(0.0, 0.8))
        likes = int(r.poisson(base))
        return likes, int(r.poisson(base * 0.2)), int(r.poisson(base * 0.1))

    def attention(self, t: float, src: Account, target: Account, kind_p: np.ndarray) -> None:
        """``src`` posts something that replies to / mentions / reposts / quotes ``target``."""
        kind = int(self.rng.choice(4, p=kind_p))
        eng = self.engagement(src.followers, 0.5)
        if kind == 0:
            self.emit(t, src, reply_to=target, engagement=eng,
                      mentions=[self.ref(target)] if self.rng.random() < 0.3 else None)
        elif kind == 1:
            extra = [f"@{self.brand_id}"] if self.rng.random() < 0.3 else []
            self.emit(t, src, mentions=[self.ref(target), *extra], engagement=eng)
        elif kind == 2:
            self.emit(t, src, repost_of=target, engagement=(0, 0, 0), text="")
        else:
            self.emit(t, src, quote_of=target, engagement=eng)


def modulation(rng: np.random.Generator, amp_max: float) -> RateFn:
    """A slow sinusoidal rate multiplier ``1 + amp sin(...)`` with drawn amplitude, period (2-7 h) and phase."""
    amp = float(rng.uniform(0.0, amp_max))
    period = float(rng.uniform(2.0, 7.0)) * 3600.0
    phase = float(rng.uniform(0.0, 2 * math.pi))
    return lambda t: 1.0 + amp * math.sin(2 * math.pi * t / period + phase)
