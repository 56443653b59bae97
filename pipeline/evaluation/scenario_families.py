"""Planted emerging voices of the non-default scenario families (:data:`pipeline.evaluation.scenario.FAMILIES`)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np

from pipeline.evaluation.scenario_parts import Account, PickAccounts, PostGenerator

__all__ = ["plant_family"]


def plant_family(g: PostGenerator, family: str, emerging: list[Account], slots: np.ndarray, bg: list[Account],
                 bots: list[Account], pick_bg: PickAccounts) -> list[dict[str, Any]]:
    """Plant the emerging voices (and extra distractors) of a non-default family; return the truth."""
    rng = g.rng
    truth: list[dict[str, Any]] = []
    for a, te in zip(emerging, slots, strict=True):
        te = float(te)
        for t in g.poisson_times(60.0 / float(rng.uniform(40, 150)), 0.0, te):
            g.emit(t, a, engagement=g.engagement(a.followers, 0.5))
        for t in g.poisson_times(float(rng.uniform(0.0, 0.4)), 0.0, te):
            g.attention(t, pick_bg()[0], a, np.array([0.5, 0.3, 0.1, 0.1]))
        kind_p = rng.dirichlet([2.0, 2.0, 1.5, 1.0])
        if family == "small_cascade":
            cascade = [bg[int(i)] for i in rng.choice(len(bg), size=int(rng.integers(5, 9)), replace=False)]
            for src in cascade:
                if src is a:
                    continue
                t = te + float(rng.uniform(0.0, 1800.0))
                g.attention(t, src, a, kind_p)
                if rng.random() < 0.4:  # some come back to the conversation
                    g.attention(t + float(rng.exponential(1200.0)), src, a, kind_p)
        else:
            slow = family == "slow_ramp"
            peak = float(rng.uniform(25, 90))
            span = float(rng.uniform(3600, 7200)) if slow else float(rng.uniform(5, 20)) * 60.0

            def rate(t: float, te: float = te, peak: float = peak, span: float = span, slow: bool = slow) -> float:
                if t < te:
                    return 0.0
                if slow:  # a fifth of the peak at once, then linear to the peak over ``span``
                    return peak * min(1.0, 0.2 + 0.8 * (t - te) / span)
                return peak * (1.0 - 0.7 * math.exp(-(t - te) / span))  # saturating, time constant span

            fans: list[Account] = []
            for t in g.thinned_times(rate, peak, te):
                if fans and rng.random() < 0.15:
                    src = fans[int(rng.integers(len(fans)))]
                else:
                    src = bg[int(rng.integers(len(bg)))]
                    fans.append(src)
                if src is not a:
                    g.attention(float(t), src, a, kind_p)
        for t in g.poisson_times(60.0 / float(rng.uniform(8, 25)), te):
            g.emit(float(t), a, engagement=g.engagement(a.followers, 2.0))
        if family == "returning":  # a short burst of attention months ago, then silence
            back = float(rng.uniform(30, 120)) * 86400.0
            t_old = float(rng.uniform(0.0, 3600.0)) - back
            g.emit_past(t_old, a)
            for src in [bg[int(i)] for i in rng.choice(len(bg), size=int(rng.integers(8, 20)), replace=False)]:
                if src is not a:
                    g.emit_past(t_old + float(rng.uniform(0.0, 3600.0)), src, reply_to=a)
        truth.append({"author_id": a.id, "handle": a.handle,
                      "emerges_at": (g.start + timedelta(seconds=te)).isoformat()})
    if family == "bursty_bots":
        for t0 in g.poisson_times(float(rng.uniform(1.0, 3.0))):
            target = bg[int(rng.integers(len(bg)))]
            for _ in range(int(rng.integers(6, 16))):
                burst = g.acct("bot", rng.lognormal(2.0, 1.0))
                for t in np.sort(t0 + rng.uniform(0.0, 600.0, size=int(rng.integers(3, 10)))):
                    g.emit(float(t), burst, mentions=[g.ref(target)], text=g.text("deal click link"))
    return truth
