"""Scoring one author within one subject: the Gamma-Poisson growth test and the ranking score.

Pure functions over an :class:`~pipeline.detect.voice_state.AuthorState`; the tracker supplies
the empirical prior rate, the author's followers and relevance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import betainc, betaincinv

from pipeline.detect.voice_config import VoiceConfig
from pipeline.detect.voice_state import AuthorState, concentration, fold, kind_weights, since

__all__ = ["Growth", "evaluate", "growth_test", "hyper_rate", "series"]


@dataclass
class Growth:
    """The most surprising change point of an author's attention."""

    surprise: float
    """``-log10 P(N >= observed)`` after the change point, under a null allowing ``growth_factor``."""
    change_ts: float
    before_rate: float
    after_rate: float
    after_n: float
    prior_rate: float
    ratio: float
    """Rate after the change point over the posterior-mean rate before it."""


def series(st: AuthorState, now: float, cfg: VoiceConfig, t0: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Weighted counts, exposures (hours) and raw per-kind arrays over the kept bins."""
    cur = int(now // cfg.bin_s)
    fold(st, cur, cfg, t0)
    lo = st.folded_to if st.folded_to is not None else cur
    start = t0 if t0 is not None else now
    lo = max(lo, int(start // cfg.bin_s))
    per_kind = np.zeros((cur - lo + 1, 8))
    for b, vals in st.bins.items():
        if lo <= b <= cur:
            per_kind[b - lo] = vals
    starts = np.arange(lo, cur + 1) * cfg.bin_s
    expo = (np.minimum(starts + cfg.bin_s, now) - np.maximum(starts, start)).clip(min=0.0) / 3600.0
    return per_kind[:, :4] @ kind_weights(cfg), expo, per_kind, lo


def growth_test(st: AuthorState, now: float, cfg: VoiceConfig, t0: float | None, prior_rate: float) -> Growth | None:
    """For every change point in the kept history: the negative-binomial predictive of the count
    after it, from the rate before it (Gamma prior ``prior_rate``) grown ``growth_factor`` times."""
    counts, expo, _, lo = series(st, now, cfg, t0)
    if counts.sum() <= 0:
        return None
    m = prior_rate
    n_prior = cfg.prior_shape + st.old_n
    t_prior = cfg.prior_shape / max(m, 1e-9) + st.old_t
    cn = np.concatenate([[0.0], np.cumsum(counts)])
    ce = np.concatenate([[0.0], np.cumsum(expo)])
    n0 = n_prior + cn[:-1]
    e0 = t_prior + ce[:-1]
    n1 = cn[-1] - cn[:-1]
    t1 = ce[-1] - ce[:-1]
    ok = (n1 > 0) & (t1 > 0) & (ce[:-1] + st.old_t >= cfg.min_baseline_h)
    if not ok.any():
        return None
    rho_t1 = cfg.growth_factor * t1
    x = np.where(ok, rho_t1 / (e0 + rho_t1), 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = betainc(np.where(ok, n1, 1.0), n0, x)
    s = np.where(ok, -np.log10(np.clip(p, 1e-300, 1.0)), 0.0)
    i = int(np.argmax(s))
    seen0 = ce[i] + st.old_t
    before = (cn[i] + st.old_n) / seen0 if seen0 > 0 else 0.0
    return Growth(surprise=float(s[i]), change_ts=float((lo + i) * cfg.bin_s),
                  before_rate=float(before), after_rate=float(n1[i] / max(t1[i], 1e-9)),
                  after_n=float(n1[i]), prior_rate=float(m),
                  ratio=float((n1[i] / max(t1[i], 1e-9)) / (n0[i] / e0[i])))


def evaluate(st: AuthorState, now: float, cfg: VoiceConfig, t0: float | None, prior_rate: float,
             followers: int, relevance: float) -> dict[str, Any] | None:
    """Growth test plus every factor of the score (see :mod:`pipeline.detect.voices`); caches the score."""
    g = growth_test(st, now, cfg, t0, prior_rate)
    if g is None:
        return None
    kw = kind_weights(cfg)
    recent = since(st, now - cfg.short_window_min * 60.0, cfg.bin_s)
    recent_w = float(recent[:4] @ kw)
    reach_v = since(st, now - cfg.reach_window_h * 3600.0, cfg.bin_s)
    reach = float(reach_v[:4] @ kw)
    w_h = cfg.short_window_min / 60.0
    currentness = min(1.0, (recent_w + 1.0) / (0.5 * g.after_rate * w_h + 1.0)) ** cfg.currentness_power
    ratio_factor = min(1.0, math.log(max(g.ratio, 1.0)) / math.log(cfg.full_ratio))
    engs = [e for ts, e in st.posts if now - ts <= cfg.history_h * 3600.0]
    padded = engs + [0] * max(0, cfg.resonance_min_posts - len(engs))
    resonance = float(np.median(padded)) if padded else 0.0
    size = 1.0 / (1.0 + math.sqrt(max(followers, 0) / cfg.big_account_followers))
    conc = concentration(st, now, cfg.short_window_min)
    conc_factor = 1.0 - max(0.0, conc - 0.5)
    by_kind = since(st, g.change_ts, cfg.bin_s)[:4] * kw
    rise_w = float(by_kind.sum())
    conv = float(by_kind[:2].sum()) / rise_w if rise_w > 0 else 0.0
    # optimistic (upper-quantile) conversational share: few arrivals get the benefit of the doubt
    conv_hi = float(betaincinv(by_kind[:2].sum() + 0.5, by_kind[2:].sum() + 0.5, cfg.conversational_quantile))
    kind_share = float(by_kind.max()) / rise_w if rise_w > 0 else 1.0
    reach_kinds = reach_v[:4] * kw
    conv_reach = float(reach_kinds[:2].sum()) / reach if reach > 0 else 0.0
    conv_factor = min(1.0, 0.25 + 1.5 * conv_reach)
    score = (math.log1p(g.surprise) * (1.0 + math.log1p(reach))
             * (1.0 + cfg.resonance_weight * math.log1p(resonance))
             * relevance * size * currentness * conc_factor * conv_factor * ratio_factor)
    st.cached_score, st.cached_at = score, now
    return {"growth": g, "score": score, "reach": reach, "resonance": resonance,
            "relevance": relevance, "recent": recent, "recent_w": recent_w,
            "conversational": conv, "conversational_hi": conv_hi, "kind_share": kind_share,
            "concentration": conc, "followers": followers, "n_posts": len(engs),
            "currentness": currentness, "size": size}


def hyper_rate(cfg: VoiceConfig, decade: int) -> float:
    """Hyper-prior mean attention per hour of an account in follower decade ``decade``."""
    followers = 0.0 if decade == 0 else 10 ** (decade + 0.5)
    return cfg.prior_base_per_h * (1.0 + followers / 1000.0) ** cfg.prior_size_exponent
