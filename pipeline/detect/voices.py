"""Emerging voices: authors of any size whose attention is growing fast for their own past and size.

Attention to an author X comes from *other* authors' posts in the conversation about a subject
(a brand or topic id, ``"*"`` = everything): replies to X, mentions of X (handles or ids), reposts
and quotes of X, plus engagement counts on X's own posts.  The tracker is online and only uses
the past; memory is bounded (idle authors are evicted).

How an author is scored, per subject:

1. **Distinct attention arrivals.**  A source author counts once per ``distinct_horizon_h`` for
   a given target (a bot hammering one account counts once).  Each arrival is weighted by its
   kind (reply/mention 1, quote 0.8, repost 0.5: a repost is the cheapest signal and is what
   one-post cascades are made of), by the source's *credibility* (authors posting far more than
   ``bot_rate_per_h`` weigh little; a source's arrivals of the last hour are re-weighed when a
   burst of posts lowers its credibility) and, for mentions, by mention spam (a post naming many
   accounts spreads one unit over them).  Arrivals land in ``bin_s`` bins kept for
   ``history_h``; older ones fold into a decayed baseline.  Time is whole seconds; a stream
   silent for ``stream_gap_h`` restarts exposure and warm-up (the gap observed nobody).
2. **Growth surprise** (Gamma-Poisson change point).  For every possible change point in the
   kept history, the rate before it (with an empirical-Bayes prior by follower-count decade,
   learnt online from all authors of the subject, so a big account is *expected* to get a lot)
   gives a negative-binomial predictive for the count after it, under a null that lets the
   rate grow ``growth_factor`` times.  ``growth`` is the largest ``-log10 P(N >= observed)``.
   Big steady accounts and the brand's own pace give ~0; a small account that went from
   nothing to a dozen distinct repliers gives 5-20+.
3. **Score** = ``log1p(growth) * (1 + log1p(reach)) * (1 + w * log1p(resonance)) * relevance *
   size * currentness * concentration * conversation * ratio``, where reach = weighted distinct
   sources in ``reach_window_h``, resonance = median engagement per post over the author's recent
   posts padded to ``resonance_min_posts`` with zeros (one viral post alone has no resonance),
   relevance = share of the author's activity that is about the subject, size =
   ``1 / (1 + sqrt(followers / big_account_followers))``, currentness = whether attention is
   still flowing (a faded cascade drops out), concentration penalises attention that all
   targets one post (when posts reference post ids), conversation =
   ``min(1, 0.25 + 1.5 * share of replies and mentions)`` discounts repost-only cascades and
   ratio = ``min(1, log(rate after / rate before) / log(full_ratio))``.
4. **Rising-voice alert** when, past a warm-up, an author has at least ``alert_min_distinct``
   weighted distinct arrivals in ``short_window_min``, a growth surprise of at least
   ``alert_min_surprise`` from a change point ``alert_min_rise_min`` to ``alert_max_change_age_h``
   old, a rate at least ``alert_min_ratio / size`` times its past, enough conversational
   attention since the change (replies and mentions, not a repost/quote cascade; not one kind
   only, i.e. one reply thread) and ranks within ``alert_top_k`` of the subject; then not again
   for ``alert_cooldown_h``.

Brand-owned accounts (``own_accounts``: subject -> ids or handles) are never ranked for that
subject (nor for ``"*"``).  Reasons are worded by :mod:`pipeline.detect.voice_digest` (no
p-values); the measured figures travel in ``facts``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

from pipeline.core.schema import RawPost
from pipeline.detect.voice_config import VoiceConfig
from pipeline.detect.voice_digest import reasons as voice_reasons
from pipeline.detect.voice_events import (
    GLOBAL,
    KIDX,
    KINDS,
    RisingVoice,
    VoiceEvent,
    VoiceRank,
    dt_of,
    events_from_post,
    ts_of,
)
from pipeline.detect.voice_identity import AuthorDirectory
from pipeline.detect.voice_score import Growth, evaluate, hyper_rate
from pipeline.detect.voice_state import (
    AuthorInfo,
    AuthorState,
    bucket,
    fold,
    kind_weights,
    new_state,
    since,
)

__all__ = [
    "KINDS",
    "RisingVoice",
    "VoiceConfig",
    "VoiceEvent",
    "VoiceRank",
    "VoiceTracker",
    "events_from_post",
    "first_copies",
    "replay",
]

T = TypeVar("T")


class VoiceTracker(AuthorDirectory):
    """Online emerging-voices tracker over a time-ordered stream of :class:`RawPost`."""

    def __init__(self, config: VoiceConfig | None = None,
                 own_accounts: dict[str, set[str]] | None = None) -> None:
        super().__init__(own_accounts)
        self.config = config or VoiceConfig()
        self._t0: float | None = None
        self._now: float = 0.0
        self._prior: dict[str, dict[int, float]] = {}
        self._next_refresh: float = -math.inf

    # ---- observing ---------------------------------------------------------------------------
    def observe(self, post: RawPost, subjects: Sequence[str] = ("*",)) -> list[RisingVoice]:
        """Add one post (posts arrive in time order) about ``subjects``; return new rising voices."""
        cfg = self.config
        now = float(math.floor(ts_of(post.created_at)))  # whole seconds, as the pipeline stores them
        if self._t0 is None or now - self._now > cfg.stream_gap_h * 3600.0:
            self._t0 = now  # (re)start of observation: the gap before it is not exposure
        self._now = max(self._now, now)
        me = self._register(post, now)
        info = self._info[me]
        cred = info.credibility(now, cfg)
        info.count_post(now, cfg)
        self._recredit(info, now, cfg)
        for ref in (post.reply_to_author, post.quote_of_author, post.repost_of_author):
            if ref:
                self._register_id(ref)
        events = events_from_post(post, self._resolve, cfg.mention_cap)
        eng = post.engagement
        eng_total = eng.likes + eng.reposts + eng.replies + eng.quotes
        if self._now >= self._next_refresh:
            self._refresh()
        alerts: list[RisingVoice] = []
        subjects = list(dict.fromkeys(subjects)) or [GLOBAL]
        for subject in subjects:
            states = self._states.setdefault(subject, {})
            if not self._is_own(subject, me):
                st = states.get(me)
                if st is None:
                    st = states[me] = new_state(self.config, now, self._t0)
                st.posts.append((now, eng_total))
                st.last_post, st.last_post_ts = post.id, now
                while len(st.posts) > cfg.max_posts:
                    st.posts.popleft()
                st.n_posts += 1
                st.last_ts = max(st.last_ts, now)
            for ev in events[1:]:
                if self._is_own(subject, ev.target):
                    continue
                tst = states.get(ev.target)
                if tst is None:
                    tst = states[ev.target] = new_state(self.config, now, self._t0)
                if self._arrive(tst, ev, cred, now, subject, info) and subject == subjects[0]:
                    tinfo = self._info.get(ev.target)
                    if tinfo is not None:
                        tinfo.attention += 1.0
                alert = self._maybe_alert(subject, ev.target, tst, now)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _arrive(self, st: AuthorState, ev: VoiceEvent, cred: float, now: float, subject: str = GLOBAL,
                source: AuthorInfo | None = None) -> bool:
        cfg = self.config
        last = st.sources.get(ev.source_id)
        if last is not None and now - last < cfg.distinct_horizon_h * 3600.0:
            return False
        st.sources[ev.source_id] = now
        if len(st.sources) > cfg.max_sources:
            oldest = min(st.sources, key=st.sources.__getitem__)
            del st.sources[oldest]
        w = cred * ev.weight
        k = KIDX[ev.kind]
        vals = st.bins.setdefault(int(now // cfg.bin_s), [0.0] * 8)
        vals[k] += w
        vals[4 + k] += 1.0
        if source is not None and len(source.arrivals) < 100:
            source.arrivals.append([now, subject, ev.target, int(now // cfg.bin_s), k, ev.weight, w])
        st.recent_refs.append((now, ev.post_ref or "", w))
        horizon = now - cfg.short_window_min * 60.0
        while st.recent_refs and (st.recent_refs[0][0] < horizon or len(st.recent_refs) > 1000):
            st.recent_refs.popleft()
        st.attention += 1.0
        st.last_ts = max(st.last_ts, now)
        return True

    # ---- empirical prior, folding and eviction -------------------------------------------------
    def _prior_rate(self, subject: str, followers: int) -> float:
        b = bucket(followers)
        return self._prior.get(subject, {}).get(b, hyper_rate(self.config, b))

    def _refresh(self) -> None:
        """Re-estimate the per-decade prior, fold old bins, prune sources, evict idle authors."""
        cfg = self.config
        now = self._now
        self._next_refresh = now + cfg.prior_refresh_min * 60.0
        cur = int(now // cfg.bin_s)
        t0 = self._t0 or now
        horizon = cfg.distinct_horizon_h * 3600.0
        kw = kind_weights(self.config)
        for subject, states in self._states.items():
            sums: dict[int, list[float]] = {}
            idle = [k for k, st in states.items() if now - st.last_ts > cfg.idle_evict_h * 3600.0]
            for k in idle:
                del states[k]
            if len(states) > cfg.max_authors:
                order = sorted(states, key=lambda k: states[k].last_ts)
                for k in order[: len(states) - cfg.max_authors]:
                    del states[k]
            for key, st in states.items():
                fold(st, cur, self.config, self._t0)
                if st.sources:
                    st.sources = {s: ts for s, ts in st.sources.items() if now - ts < horizon}
                info = self._info.get(key)
                b = bucket(info.followers if info else 0)
                n = st.old_n + sum(float(np.dot(kw, v[:4])) for v in st.bins.values())
                expo = st.old_t + (now - max(t0, (st.folded_to or cur) * cfg.bin_s)) / 3600.0
                acc = sums.setdefault(b, [0.0, 0.0])
                acc[0] += n
                acc[1] += max(expo, 0.0)
            kappa = cfg.prior_pool_hours
            self._prior[subject] = {
                b: (a + kappa * hyper_rate(cfg, b)) / (e + kappa) for b, (a, e) in sums.items()}
        self._evict_idle_info(now, cfg.idle_evict_h * 3600.0)

    # ---- scoring --------------------------------------------------------------------------------
    def _evaluate(self, subject: str, key: str, st: AuthorState, now: float) -> dict[str, Any] | None:
        info = self._info.get(key)
        followers = info.followers if info else 0
        if subject == GLOBAL or info is None:
            relevance = 1.0
        else:
            relevance = min(1.0, (st.n_posts + st.attention + 1.0) / (info.posts + info.attention + 1.0))
        return evaluate(st, now, self.config, self._t0, self._prior_rate(subject, followers), followers, relevance)

    def _facts(self, ev: dict[str, Any], key: str) -> dict[str, Any]:
        """What was measured, in units a person reads (people, per hour), plus the statistics."""
        g: Growth = ev["growth"]
        raw = ev["recent"][4:]
        info = self._info.get(key)
        return {
            **{f"people_{k}": float(raw[i]) for i, k in enumerate(KINDS)},
            "usual_per_h": g.before_rate, "rate_now_per_h": g.after_rate, "ratio": g.ratio,
            "rising_since": dt_of(g.change_ts), "followers": ev["followers"], "resonance": ev["resonance"],
            "n_posts": ev["n_posts"], "relevance": ev["relevance"], "conversational": ev["conversational"],
            "concentration": ev["concentration"], "surprise": g.surprise,
            "p_value": 10.0 ** -g.surprise, "source": info.source if info else "",
        }

    def _reasons(self, ev: dict[str, Any], subject: str, key: str) -> list[str]:
        facts = {**self._facts(ev, key), "author_id": key, "handle": self._handle_of(key)}
        return voice_reasons(facts, subject, self.config.short_window_min)

    def _maybe_alert(self, subject: str, key: str, st: AuthorState, now: float) -> RisingVoice | None:
        cfg = self.config
        if self._t0 is None or now - self._t0 < cfg.warmup_min * 60.0:
            return None
        if st.last_alert is not None and now - st.last_alert < cfg.alert_cooldown_h * 3600.0:
            return None
        if now - st.last_eval < cfg.eval_interval_s:
            return None
        recent = since(st, now - cfg.short_window_min * 60.0, cfg.bin_s)
        if float(recent[:4] @ kind_weights(self.config)) < cfg.alert_min_distinct:
            return None
        st.last_eval = now
        ev = self._evaluate(subject, key, st, now)
        if ev is None:
            return None
        g: Growth = ev["growth"]
        if (g.surprise < cfg.alert_min_surprise
                or g.ratio * ev["size"] < cfg.alert_min_ratio
                or now - g.change_ts > cfg.alert_max_change_age_h * 3600.0
                or now - g.change_ts < cfg.alert_min_rise_min * 60.0
                or ev["conversational_hi"] < cfg.alert_min_conversational
                or ev["kind_share"] > cfg.alert_max_kind_share
                or ev["concentration"] > cfg.alert_max_concentration):
            return None
        stale = 3600.0
        better = sum(1 for k, o in self._states[subject].items()
                     if k != key and now - o.cached_at < stale and o.cached_score > ev["score"])
        if better >= cfg.alert_top_k:
            return None
        st.last_alert = now
        return RisingVoice(author_id=key, handle=self._handle_of(key),
                           subject=subject, score=float(ev["score"]), at=dt_of(now),
                           reasons=self._reasons(ev, subject, key), facts=self._facts(ev, key))

    # ---- listing ----------------------------------------------------------------------------------
    def ranking(self, subject: str = "*", now: datetime | None = None, k: int = 20) -> list[VoiceRank]:
        """Current emerging voices of ``subject``, best first, with human-readable reasons."""
        cfg = self.config
        t = ts_of(now) if now is not None else self._now
        states = self._states.get(subject, {})
        rows: list[VoiceRank] = []
        for key, st in states.items():
            if not st.bins or self._is_own(subject, key):
                continue
            ev = self._evaluate(subject, key, st, t)
            if ev is None or ev["growth"].surprise < cfg.rank_min_surprise or ev["score"] <= 0:
                continue
            rows.append(VoiceRank(
                author_id=key, handle=self._handle_of(key), subject=subject,
                score=float(ev["score"]), growth=float(ev["growth"].surprise), reach=float(ev["reach"]),
                resonance=float(ev["resonance"]), relevance=float(ev["relevance"]),
                reasons=self._reasons(ev, subject, key), facts=self._facts(ev, key)))
        rows.sort(key=lambda r: (-r.score, r.author_id))
        return rows[:k]

    def subjects(self) -> list[str]:
        """Subjects seen so far."""
        return sorted(self._states)


def first_copies(items: Iterable[T], post_id: Callable[[T], str]) -> list[T]:
    """``items`` in their order, each post id once (its first copy): a repeated id is one post to
    the pipeline, stored once and fed to the live tracker once, so offline replays drop repeats."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = post_id(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def replay(posts: Iterable[RawPost], tracker: VoiceTracker | None = None,
           subjects: Sequence[str] = ("*",)) -> tuple[VoiceTracker, list[RisingVoice]]:
    """Feed ``posts`` (time-ordered) into a tracker; return it with every alert raised."""
    tr = tracker or VoiceTracker()
    alerts: list[RisingVoice] = []
    for p in posts:
        alerts.extend(tr.observe(p, subjects))
    return tr, alerts
