"""Synthetic conversations about one brand with planted emerging voices and distractors.

:func:`generate_scenario` returns posts in the JSONL interchange form (the shape
:class:`pipeline.core.schema.RawPost` validates) plus the ground truth used by
``hypermicro eval voices``.  What is in a scenario (every size, rate and shape is drawn
per seed, so seeds differ in more than noise):

- **background chatter**: a pool of ordinary accounts (log-normal follower counts, Zipf-like
  activity) posting about the brand, mentioning its handle, replying to recent posts
  (which makes small threads), reposting and quoting;
- **small threads**: a random ordinary account briefly gets a handful of replies (a hard
  negative: a short conversation is not a rising voice);
- **big steady accounts** (100k-5M followers) and the **brand's own account**: lots of
  attention, but at a steady (slowly modulated) rate; the brand account also replies to
  customers;
- **steady mid-size specialists** (3k-50k followers): moderate, steady attention;
- **bots**: many posts an hour, almost no engagement, mention spam (several handles per
  post, some bots hammer one account), and on some seeds a bot network reposting one
  spam account;
- **one-hit viral posts**: one post with huge engagement counts, on most seeds followed by
  a short cascade of mostly reposts that fades;
- **emerging voices** (the truth): small accounts whose distinct attention grows from near
  zero at ``emerges_at`` (step, ramp or saturating growth to a drawn peak rate) and who
  post more often, with growing engagement, once noticed.

Truth: ``{"emerging": [{"author_id", "handle", "emerges_at"}], "brand": {...},
"own_accounts": [...], "distractors": {...}, "seed", "start", "end", "duration_h"}``.
Tune on some seeds, report on others (see ``pipeline.evaluation.voices``). Accounts and the
post generator are in :mod:`pipeline.evaluation.scenario_parts`, the non-default families in
:mod:`pipeline.evaluation.scenario_families`.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.evaluation.scenario_families import plant_family
from pipeline.evaluation.scenario_parts import BRANDS, Account, PostGenerator, modulation

__all__ = ["FAMILIES", "generate_scenario", "write_scenario"]

def generate_scenario(
    seed: int,
    duration_h: float = 6,
    n_emerging: int = 5,
    *,
    start: datetime | None = None,
    n_background: int | None = None,
    background_rate_per_h: float | None = None,
    n_bots: int | None = None,
    n_viral: int | None = None,
    family: str = "default",
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Posts (time-ordered, JSONL interchange form) and truth for one synthetic scenario.

    ``None`` parameters are drawn from the seed. Emergence times fall in
    ``[max(1 h, 15 % of the run), end - 1 h]`` so every planted voice has a past and a future.
    ``family`` picks how the planted voices grow and which extra distractors appear
    (:data:`FAMILIES`); ``"default"`` is the family the detector was designed on.
    """
    if duration_h < 2.5:
        raise ValueError("duration_h must be at least 2.5 hours")
    if family not in FAMILIES:
        raise ValueError(f"unknown scenario family {family!r}; choose one of {', '.join(FAMILIES)}")
    rng = np.random.default_rng(seed)
    brand_id, brand_name = BRANDS[int(rng.integers(len(BRANDS)))]
    start = start or datetime(2024, 3, 1, tzinfo=UTC) + timedelta(
        days=int(rng.integers(0, 300)), hours=int(rng.integers(0, 24)))
    g = PostGenerator(rng=rng, start=start.astimezone(UTC), duration_s=duration_h * 3600.0,
             brand_id=brand_id, brand_name=brand_name)
    g.used_handles.add(brand_id)
    dur = g.duration_s

    # ---- accounts ---------------------------------------------------------------------
    n_bg = int(n_background or rng.integers(600, 2500))
    if family == "quiet_stream":
        n_bg = int(n_background or rng.integers(150, 500))
    mu, sigma = float(rng.uniform(4.0, 6.0)), float(rng.uniform(1.1, 1.8))
    bg = [g.acct("background", min(rng.lognormal(mu, sigma), 300_000)) for _ in range(n_bg)]
    activity = rng.zipf(float(rng.uniform(1.6, 2.4)), size=n_bg).astype(float)
    activity = np.minimum(activity, 50.0)
    activity /= activity.sum()

    brand = Account(id=f"brand-{int(rng.integers(100, 999))}", handle=brand_id,
                  followers=int(10 ** rng.uniform(4.5, 6.2)), role="brand")
    big = [g.acct("big", 10 ** rng.uniform(5.0, 6.7)) for _ in range(int(rng.integers(2, 6)))]
    mid = [g.acct("specialist", 10 ** rng.uniform(3.5, 4.7)) for _ in range(int(rng.integers(3, 9)))]
    bots = [g.acct("bot", rng.lognormal(3.0, 1.2)) for _ in range(int(n_bots if n_bots is not None
                                                                       else rng.integers(3, 16)))]
    emerging = [g.acct("emerging", 10 ** rng.uniform(1.7, 3.5)) for _ in range(n_emerging)]

    def pick_bg(n: int = 1, replace: bool = True) -> list[Account]:
        idx = rng.choice(n_bg, size=n, p=activity, replace=replace and n_bg > 0)
        return [bg[int(i)] for i in np.atleast_1d(idx)]

    def pick_uniform_bg(n: int) -> list[Account]:
        idx = rng.choice(n_bg, size=min(n, n_bg), replace=False)
        return [bg[int(i)] for i in idx]

    # ---- background chatter -----------------------------------------------------------
    bg_rate = float(background_rate_per_h or rng.uniform(120, 500))
    if family == "quiet_stream":
        bg_rate = float(background_rate_per_h or rng.uniform(25, 80))
    p_mention_brand = float(rng.uniform(0.25, 0.8))
    p_reply, p_repost, p_quote = (float(rng.uniform(0.1, 0.3)), float(rng.uniform(0.05, 0.15)),
                                  float(rng.uniform(0.0, 0.05)))
    recent: list[Account] = []
    for t in g.poisson_times(bg_rate):
        a = pick_bg()[0]
        u = rng.random()
        eng = g.engagement(a.followers, 1.0)
        if u < p_reply and recent:
            tgt = recent[-int(rng.integers(1, min(len(recent), 60) + 1))]
            if tgt is not a:
                g.emit(t, a, reply_to=tgt, engagement=eng)
        elif u < p_reply + p_repost and recent:
            w = np.sqrt(np.array([r.followers for r in recent[-200:]], dtype=float) + 1.0)
            tgt = recent[-200:][int(rng.choice(len(w), p=w / w.sum()))]
            if tgt is not a:
                g.emit(t, a, repost_of=tgt, text="")
        elif u < p_reply + p_repost + p_quote and recent:
            tgt = recent[-int(rng.integers(1, min(len(recent), 100) + 1))]
            if tgt is not a:
                g.emit(t, a, quote_of=tgt, engagement=eng)
        else:
            m = [f"@{brand.handle}"] if rng.random() < p_mention_brand else []
            if rng.random() < 0.05:
                m.append(g.ref(pick_bg()[0]))
            g.emit(t, a, mentions=m, engagement=eng)
        recent.append(a)
        if len(recent) > 400:
            del recent[:100]

    # small threads around random ordinary accounts (hard negatives)
    thread_rate = float(rng.uniform(0.5, 2.0))
    p_geo = float(rng.uniform(0.35, 0.6))
    for t in g.poisson_times(thread_rate):
        owner = bg[int(rng.integers(n_bg))]
        g.emit(t, owner, engagement=g.engagement(owner.followers, 2.0))
        size = 1 + int(rng.geometric(p_geo))
        for src in pick_uniform_bg(size):
            if src is not owner:
                g.emit(t + float(rng.exponential(600.0)), src, reply_to=owner,
                       engagement=g.engagement(src.followers, 0.5))

    # ---- steady accounts: big, brand, specialists ---------------------------------------
    def steady(acct: Account, attn_rate: float, post_every_min: float, amp: float, kind_p: np.ndarray,
               eng_scale: float) -> None:
        mod = modulation(rng, amp)
        for t in g.thinned_times(lambda t: attn_rate * mod(t), attn_rate * (1 + amp)):
            g.attention(t, pick_bg()[0], acct, kind_p)
        for t in g.poisson_times(60.0 / post_every_min):
            g.emit(t, acct, engagement=g.engagement(acct.followers, eng_scale))

    for a in big:
        steady(a, float(rng.uniform(8, 60)), float(rng.uniform(15, 60)), 0.4,
               rng.dirichlet([2.0, 2.0, 3.0, 1.0]), float(rng.uniform(1, 4)))
    steady(brand, float(rng.uniform(2, 10)), float(rng.uniform(8, 25)), 0.3,
           rng.dirichlet([3.0, 1.0, 1.0, 0.5]), 1.0)
    for t in g.poisson_times(float(rng.uniform(3, 12))):  # brand replies to customers
        tgt = pick_bg()[0]
        g.emit(t, brand, reply_to=tgt, mentions=[g.ref(tgt)], engagement=g.engagement(brand.followers, 0.3))
    for a in mid:
        steady(a, float(rng.uniform(1.5, 12)), float(rng.uniform(20, 90)), 0.3,
               rng.dirichlet([2.0, 2.0, 2.0, 1.0]), float(rng.uniform(1, 3)))

    # ---- bots ------------------------------------------------------------------------------
    famous = [brand, *big]
    spam_target: Account | None = None
    if bots and rng.random() < 0.5:
        spam_target = g.acct("spam", rng.lognormal(3.5, 1.0))
        bots_network = bots
    else:
        bots_network = []
    for b in bots:
        rate = float(rng.uniform(15, 90))
        hammer = pick_bg()[0] if rng.random() < 0.4 else None
        targets = [*famous, *pick_bg(int(rng.integers(3, 30)))]
        if rng.random() < 0.3 and emerging:
            targets.append(emerging[int(rng.integers(len(emerging)))])
        for t in g.poisson_times(rate):
            if spam_target is not None and b in bots_network and rng.random() < 0.3:
                g.emit(t, b, repost_of=spam_target, text="")
                continue
            k = int(rng.integers(1, 7))
            ms = [g.ref(targets[int(i)]) for i in rng.choice(len(targets), size=min(k, len(targets)),
                                                            replace=False)]
            if hammer is not None and rng.random() < 0.7:
                ms.append(g.ref(hammer))
            g.emit(t, b, mentions=ms, engagement=(int(rng.random() < 0.05), 0, 0),
                   text=g.text("deal click link"))
    if spam_target is not None:
        for t in g.poisson_times(2.0):
            g.emit(t, spam_target, engagement=(int(rng.integers(0, 3)), 0, 0), text=g.text("promo"))

    # ---- one-hit viral posts ------------------------------------------------------------
    viral_info = []
    nv = int(n_viral if n_viral is not None else rng.integers(1, 4))
    for _ in range(nv):
        a = g.acct("viral", 10 ** rng.uniform(1.8, 4.0))
        tv = float(rng.uniform(0.3, 0.95)) * dur
        likes = int(10 ** rng.uniform(3.0, 4.7))
        g.emit(tv, a, engagement=(likes, int(likes * rng.uniform(0.1, 0.4)), int(likes * rng.uniform(0.02, 0.1))))
        if rng.random() < 0.75:  # a visible cascade, mostly reposts, fading fast
            kind_p = rng.dirichlet([1.0, 0.5, 8.0, 2.0])
            n_cascade = int(rng.integers(15, 120))
            decay = float(rng.uniform(5, 30)) * 60.0
            for src in pick_uniform_bg(n_cascade):
                g.attention(tv + float(rng.exponential(decay)), src, a, kind_p)
        viral_info.append({"author_id": a.id, "at": (g.start + timedelta(seconds=tv)).isoformat()})

    # ---- emerging voices -------------------------------------------------------------------
    lo = max(3600.0, 0.15 * dur)
    hi = dur - 3600.0
    slots = np.sort(rng.uniform(lo, hi, size=n_emerging))
    truth_emerging = []
    if family not in ("default", "quiet_stream"):
        truth_emerging = plant_family(g, family, emerging, slots, bg, bots, pick_bg)
    for a, te in zip(emerging if family in ("default", "quiet_stream") else [], slots, strict=False):
        te = float(te)
        # near-zero past: occasional posts, rare attention
        for t in g.poisson_times(60.0 / float(rng.uniform(40, 150)), 0.0, te):
            g.emit(t, a, engagement=g.engagement(a.followers, 0.5))
        for t in g.poisson_times(float(rng.uniform(0.0, 0.4)), 0.0, te):
            g.attention(t, pick_bg()[0], a, np.array([0.5, 0.3, 0.1, 0.1]))
        peak = float(rng.uniform(25, 90))
        shape = str(rng.choice(["step", "ramp", "saturating"]))
        ramp_s = float(rng.uniform(10, 30)) * 60.0
        tau_s = float(rng.uniform(5, 20)) * 60.0
        half_life_s = float(rng.uniform(2, 10)) * 3600.0

        def attn_rate(t: float, te: float = te, peak: float = peak, shape: str = shape, ramp_s: float = ramp_s,
                 tau_s: float = tau_s, half_life_s: float = half_life_s) -> float:
            x = t - te
            if x < 0:
                return 0.0
            if shape == "step":
                grow = 1.0
            elif shape == "ramp":
                grow = min(1.0, 0.3 + x / ramp_s)
            else:
                grow = 1.0 - math.exp(-x / tau_s) * 0.7
            return peak * grow * 0.5 ** (x / half_life_s)

        kind_p = rng.dirichlet([2.0, 2.0, 1.5, 1.0])
        fans: list[Account] = []
        for t in g.thinned_times(attn_rate, peak, te):
            if fans and rng.random() < 0.15:
                src = fans[int(rng.integers(len(fans)))]
            else:
                src = bg[int(rng.integers(n_bg))]
                fans.append(src)
            if src is not a:
                g.attention(float(t), src, a, kind_p)
        # once noticed they post more, with engagement growing with attention
        for t in g.poisson_times(60.0 / float(rng.uniform(8, 25)), te):
            boost = 1.0 + attn_rate(float(t)) / 5.0
            g.emit(float(t), a, engagement=g.engagement(a.followers, boost))
        truth_emerging.append({"author_id": a.id, "handle": a.handle,
                               "emerges_at": (g.start + timedelta(seconds=te)).isoformat()})

    g.posts.sort(key=lambda p: p["_t"])
    for p in g.posts:
        del p["_t"]
    truth = {
        "seed": seed,
        "start": g.start.isoformat(),
        "end": (g.start + timedelta(seconds=dur)).isoformat(),
        "duration_h": duration_h,
        "brand": {"id": brand_id, "name": brand_name, "account_id": brand.id, "handle": brand.handle},
        "own_accounts": [brand.id],
        "emerging": truth_emerging,
        "distractors": {
            "big": [a.id for a in big],
            "specialists": [a.id for a in mid],
            "bots": [a.id for a in bots],
            "bot_amplified": spam_target.id if spam_target else None,
            "viral": viral_info,
        },
        "n_posts": len(g.posts),
        **({"family": family} if family != "default" else {}),
    }
    return g.posts, truth


FAMILIES: tuple[str, ...] = ("default", "slow_ramp", "small_cascade", "bursty_bots", "returning",
                             "quiet_stream")
"""Scenario families. ``default``: step/ramp/saturating growth over 10-30 min to 25-90 arrivals/h
(the family the detector was designed on).  ``slow_ramp``: attention starts at a fifth of its peak
(25-90/h) and ramps linearly to it over 1-2 h.  ``small_cascade``: only 5-8 accounts notice the voice within ~30 min (a few come back).
``bursty_bots``: default voices plus bursts of fresh low-follower accounts hammering a random
account for 10 minutes (coordinated amplification, a hard negative).  ``returning``: default-shaped
voices who had a short burst of attention 30-120 days before the stream starts, then silence.
``quiet_stream``: default-shaped voices in a small, quiet conversation (150-500 accounts, 25-80
background posts an hour)."""


def write_scenario(dir: Path | str, seed: int, **kwargs: Any) -> tuple[Path, Path]:
    """Write ``posts.jsonl`` and ``truth.json`` for ``seed`` into ``dir``; return both paths."""
    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)
    posts, truth = generate_scenario(seed, **kwargs)
    posts_path, truth_path = out / "posts.jsonl", out / "truth.json"
    with posts_path.open("w", encoding="utf-8") as fh:
        for p in posts:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    truth_path.write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return posts_path, truth_path
