"""Per-author memory of the emerging-voices tracker: who an author is across subjects
(:class:`AuthorInfo`) and its binned attention within one subject (:class:`AuthorState`), with
the operations on that memory (folding old bins into a decayed baseline, windows)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.detect.voice_config import VoiceConfig
from pipeline.detect.voice_events import KINDS

__all__ = ["AuthorInfo", "AuthorState", "bucket", "concentration", "fold", "kind_weights", "new_state", "since"]


def bucket(followers: int) -> int:
    """Follower-count decade (0-8) an author's prior is pooled in."""
    return min(8, int(math.log10(max(0, followers) + 1)))


def kind_weights(cfg: VoiceConfig) -> np.ndarray:
    """Weights of the attention kinds, in :data:`KINDS` order."""
    return np.array([cfg.kind_weights.get(k, 1.0) for k in KINDS])


@dataclass
class AuthorInfo:
    """What the tracker knows about an author across subjects."""

    handle: str = ""
    source: str = ""
    followers: int = 0
    first_ts: float = 0.0
    rate_n: float = 0.0
    rate_ts: float = 0.0
    posts: int = 0
    attention: float = 0.0
    arrivals: list[list[Any]] = field(default_factory=list)
    """[time, subject, target, bin, kind index, weight before credibility, weight applied] of this
    author's arrivals in the last hour, re-weighed when its credibility drops."""

    def credibility(self, now: float, cfg: VoiceConfig) -> float:
        """``1 / (1 + (posting rate / bot rate)^2)``: accounts posting far faster than people weigh little."""
        tau = cfg.rate_tau_h * 3600.0
        n = self.rate_n * math.exp(-(now - self.rate_ts) / tau) if self.rate_n else 0.0
        age = max(0.0, now - self.first_ts)
        exposure = max(cfg.min_rate_exposure_min * 60.0, tau * (1.0 - math.exp(-age / tau)))
        rate = n / (exposure / 3600.0)
        return 1.0 / (1.0 + (rate / cfg.bot_rate_per_h) ** 2)

    def count_post(self, now: float, cfg: VoiceConfig) -> None:
        """Add one post to the decayed posting-rate estimate."""
        tau = cfg.rate_tau_h * 3600.0
        self.rate_n = self.rate_n * math.exp(-max(0.0, now - self.rate_ts) / tau) + 1.0
        self.rate_ts = max(now, self.rate_ts)
        self.posts += 1


@dataclass
class AuthorState:
    """One author within one subject."""

    bins: dict[int, list[float]] = field(default_factory=dict)
    """bin index -> [weighted arrivals by kind (4), raw distinct sources by kind (4)]."""
    old_n: float = 0.0
    old_t: float = 0.0
    """Folded baseline: decayed weighted arrivals and exposure (hours) older than history."""
    folded_to: int | None = None
    sources: dict[str, float] = field(default_factory=dict)
    posts: deque[tuple[float, int]] = field(default_factory=deque)
    recent_refs: deque[tuple[float, str, float]] = field(default_factory=deque)
    """(time, post the arrival points at or "" for none, weight) of recent arrivals."""
    last_post: str = ""
    last_post_ts: float = -math.inf
    n_posts: int = 0
    attention: float = 0.0
    last_ts: float = 0.0
    last_alert: float | None = None
    last_eval: float = -math.inf
    cached_score: float = 0.0
    cached_at: float = -math.inf


def new_state(cfg: VoiceConfig, now: float, t0: float | None) -> AuthorState:
    """A fresh author state whose folded baseline covers the stream seen before its kept window."""
    st = AuthorState(last_ts=now)
    nb = max(1, int(round(cfg.history_h * 3600.0 / cfg.bin_s)))
    t0 = t0 if t0 is not None else now
    window_start = (int(now // cfg.bin_s) - nb + 1) * cfg.bin_s
    back = max(0.0, window_start - t0) / 3600.0  # stream seen before the kept window
    if back > 0:
        tau = cfg.baseline_tau_h
        st.old_t = tau * (1.0 - math.exp(-back / tau))
    st.folded_to = int(now // cfg.bin_s) - nb + 1
    return st


def fold(st: AuthorState, cur_bin: int, cfg: VoiceConfig, t0: float | None) -> None:
    """Move bins older than the kept history into the decayed baseline."""
    nb = max(1, int(round(cfg.history_h * 3600.0 / cfg.bin_s)))
    lo = cur_bin - nb + 1
    if st.folded_to is None:
        st.folded_to = lo
    if lo <= st.folded_to:
        return
    tau = cfg.baseline_tau_h
    bw_h = cfg.bin_s / 3600.0
    d = math.exp(-bw_h / tau)
    kw = kind_weights(cfg)
    n_fold = lo - st.folded_to
    if n_fold > 4 * nb:  # long silence in the stream: closed form, bins assumed fully seen
        dn = d ** n_fold
        st.old_n = st.old_n * dn + sum(
            float(np.dot(kw, v[:4])) * d ** (lo - 1 - b) for b, v in st.bins.items() if b < lo)
        st.old_t = st.old_t * dn + bw_h * (1.0 - dn) / (1.0 - d)
    else:
        t0 = t0 or 0.0
        for b in range(st.folded_to, lo):
            vals = st.bins.get(b)
            n = float(np.dot(kw, vals[:4])) if vals else 0.0
            start = b * cfg.bin_s
            expo = max(0.0, min(cfg.bin_s, (b + 1) * cfg.bin_s - max(start, t0))) / 3600.0
            st.old_n = st.old_n * d + n
            st.old_t = st.old_t * d + expo
    for b in [b for b in st.bins if b < lo]:
        del st.bins[b]
    st.folded_to = lo


def since(st: AuthorState, ts: float, bin_s: float) -> np.ndarray:
    """Weighted (4) and raw (4) arrivals by kind in the bins from the one holding ``ts`` on."""
    lo = int(ts // bin_s)
    out = np.zeros(8)
    for b, vals in st.bins.items():
        if b >= lo:
            out += vals
    return out


def concentration(st: AuthorState, now: float, window_min: float) -> float:
    """Share of recent weighted attention that points at one post (0 when too little)."""
    horizon = now - window_min * 60.0
    per: dict[str, float] = {}
    total = 0.0
    for ts, ref, w in st.recent_refs:
        if ts >= horizon:
            total += w
            if ref:
                per[ref] = per.get(ref, 0.0) + w
    if total < 3.0 or not per:
        return 0.0
    return max(per.values()) / total
