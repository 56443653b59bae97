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
   ``bot_rate_per_h`` weigh little) and, for mentions, by mention spam (a post naming many
   accounts spreads one unit over them).  Arrivals land in ``bin_s`` bins kept for
   ``history_h``; older ones fold into a decayed baseline.
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
subject (nor for ``"*"``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from scipy.special import betainc, betaincinv

from pipeline.detect.voice_digest import reasons as voice_reasons
from pipeline.schema import RawPost

__all__ = [
    "KINDS",
    "RisingVoice",
    "VoiceConfig",
    "VoiceEvent",
    "VoiceRank",
    "VoiceTracker",
    "events_from_post",
]

VoiceKind = Literal["post", "reply", "mention", "repost", "quote"]
KINDS: tuple[str, ...] = ("reply", "mention", "repost", "quote")
"""Attention kinds, in the order used inside the per-bin arrays."""
_KIDX = {k: i for i, k in enumerate(KINDS)}
_GLOBAL = "*"


@dataclass
class VoiceConfig:
    """Every tunable of :class:`VoiceTracker`, with the defaults used in evaluation."""

    bin_s: float = 300.0
    """Width of the attention bins (seconds)."""
    history_h: float = 24.0
    """Hours of binned attention kept per author; change points are searched in this range."""
    baseline_tau_h: float = 24.0
    """Decay (hours) of attention older than ``history_h``, folded into the author's baseline."""
    short_window_min: float = 30.0
    """The "recent" window of alerts, currentness and reasons (minutes)."""
    reach_window_h: float = 3.0
    """Window of the reach figure: weighted distinct sources in the last this many hours."""
    distinct_horizon_h: float = 3.0
    """A source counts again toward the same target only after this many hours."""
    kind_weights: dict[str, float] = field(
        default_factory=lambda: {"reply": 1.0, "mention": 1.0, "quote": 0.8, "repost": 0.5})
    """Weight of an arrival by kind."""
    mention_cap: int = 3
    """A post mentioning ``m`` > this many accounts gives each ``mention_cap / m``."""
    bot_rate_per_h: float = 12.0
    """Source credibility is ``1 / (1 + (posts_per_hour / this)^2)``."""
    rate_tau_h: float = 1.0
    """Decay (hours) of the per-author posting-rate estimate."""
    min_rate_exposure_min: float = 15.0
    """Floor of the exposure used to estimate a new author's posting rate (minutes)."""
    growth_factor: float = 2.0
    """Null hypothesis of the growth test: the rate may grow up to this factor."""
    min_baseline_h: float = 0.75
    """A change point needs at least this much observed stream before it (own past, not only prior)."""
    prior_shape: float = 0.5
    """Gamma prior shape (pseudo-arrivals) of an author's baseline rate."""
    prior_base_per_h: float = 0.05
    """Hyper-prior mean attention rate (per hour) of an account with no followers."""
    prior_size_exponent: float = 0.5
    """Hyper-prior mean grows as ``(1 + followers / 1000) ** this``."""
    prior_pool_hours: float = 2.0
    """Author-hours of hyper-prior mixed into each follower decade's empirical mean."""
    prior_refresh_min: float = 10.0
    """Minutes of stream time between refreshes of the empirical prior and evictions."""
    big_account_followers: float = 100_000.0
    """Size penalty ``1 / (1 + sqrt(followers / this))``."""
    resonance_weight: float = 0.3
    """Weight of ``log1p(median engagement per post)`` in the score."""
    resonance_min_posts: int = 3
    """Posts' engagement list is padded with zeros to this length before the median."""
    full_ratio: float = 20.0
    """Growth ratio (rate after / before the change point) that earns the full score; a doubling
    earns ``log 2 / log full_ratio`` of it, so big accounts with a busy hour stay below new voices."""
    currentness_power: float = 0.5
    """Exponent of the currentness factor (0 ignores whether attention still flows)."""
    rank_min_surprise: float = 2.0
    """Authors below this growth surprise (-log10 p) are not listed as emerging."""
    alert_min_surprise: float = 4.0
    """Growth surprise (-log10 p) needed for a rising-voice alert: p <= 1e-4 keeps chance alerts
    rare over the few thousand authors of a subject that ever get three people's attention at once."""
    alert_min_distinct: float = 3.0
    """Weighted distinct arrivals in the short window before an author is tested at all (three
    people is the smallest group that is more than a two-person exchange; the surprise decides)."""
    alert_min_ratio: float = 4.0
    """The rate since the change point must be at least this many times the rate before it,
    divided by the size factor (a 300k-follower account needs about 11 times)."""
    alert_max_change_age_h: float = 3.0
    """The change point must be at most this old for an alert (the rise must be fast)."""
    alert_min_rise_min: float = 10.0
    """...and at least this old (minutes): a burst of a few minutes is not yet a voice."""
    alert_min_conversational: float = 0.4
    """Share of weighted attention since the change point that must be replies or mentions (people
    talking to or about the author), not reposts/quotes of a post: a one-post cascade is not a voice."""
    conversational_quantile: float = 0.5
    """The conversational share is judged by this upper quantile of its Beta posterior."""
    alert_max_kind_share: float = 0.85
    """Withhold alerts while one kind (e.g. only replies: one thread) makes more than this share
    of the attention since the change point."""
    alert_max_concentration: float = 0.8
    """Alerts are withheld when more than this share of attention targets one post."""
    alert_top_k: int = 10
    """The author must rank within this many of the subject when alerted."""
    alert_cooldown_h: float = 12.0
    """No second alert for the same author and subject within this many hours."""
    warmup_min: float = 30.0
    """No alerts until the tracker has seen this many minutes of stream."""
    eval_interval_s: float = 60.0
    """An author's growth is re-evaluated for alerts at most this often (stream seconds)."""
    stream_gap_h: float = 3.0
    """A stream silent this long is a gap in observation (an outage, data resuming months later),
    not hours in which nobody paid attention to anyone: exposure and warm-up restart after it."""
    idle_evict_h: float = 12.0
    """Authors without activity for this long are evicted."""
    max_authors: int = 200_000
    """Per subject; the least recently active are evicted beyond this."""
    max_sources: int = 5_000
    """Distinct-source memory per author (oldest dropped beyond this)."""
    max_posts: int = 30
    """Own posts remembered per author (for resonance)."""


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


def _norm(ref: str) -> str:
    return ref.strip().lstrip("@").lower()


def events_from_post(post: RawPost, resolve: Any = _norm, mention_cap: int = 3) -> list[VoiceEvent]:
    """Attention events a post gives to other authors plus its own ``post`` event.

    A target named several ways in one post counts once, with the strongest kind
    (reply > quote > mention > repost). ``resolve`` maps a reference to an author key.
    """
    me = post.author.id
    at = post.created_at
    found: dict[str, tuple[str, float, str | None]] = {}

    def add(ref: str | None, kind: str, weight: float, post_ref: str | None = None,
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
        events.append(VoiceEvent(kind=kind, source_id=me, target=key, at=at, weight=w,  # type: ignore[arg-type]
                                 post_ref=pref))
    return events


def _ts(dt: datetime) -> float:
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt).timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _bucket(followers: int) -> int:
    return min(8, int(math.log10(max(0, followers) + 1)))


@dataclass
class _Info:
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
        tau = cfg.rate_tau_h * 3600.0
        n = self.rate_n * math.exp(-(now - self.rate_ts) / tau) if self.rate_n else 0.0
        age = max(0.0, now - self.first_ts)
        exposure = max(cfg.min_rate_exposure_min * 60.0, tau * (1.0 - math.exp(-age / tau)))
        rate = n / (exposure / 3600.0)
        return 1.0 / (1.0 + (rate / cfg.bot_rate_per_h) ** 2)

    def count_post(self, now: float, cfg: VoiceConfig) -> None:
        tau = cfg.rate_tau_h * 3600.0
        self.rate_n = self.rate_n * math.exp(-max(0.0, now - self.rate_ts) / tau) + 1.0
        self.rate_ts = max(now, self.rate_ts)
        self.posts += 1


@dataclass
class _State:
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


@dataclass
class _Growth:
    surprise: float
    change_ts: float
    before_rate: float
    after_rate: float
    after_n: float
    prior_rate: float
    ratio: float
    """Rate after the change point over the posterior-mean rate before it."""


class VoiceTracker:
    """Online emerging-voices tracker over a time-ordered stream of :class:`RawPost`."""

    def __init__(self, config: VoiceConfig | None = None,
                 own_accounts: dict[str, set[str]] | None = None) -> None:
        self.config = config or VoiceConfig()
        self.own_accounts: dict[str, set[str]] = {
            s: {_norm(a) for a in accts} for s, accts in (own_accounts or {}).items()}
        self._t0: float | None = None
        self._now: float = 0.0
        self._info: dict[str, _Info] = {}
        self._ids: dict[str, str] = {}
        self._handles: dict[str, str] = {}
        self._states: dict[str, dict[str, _State]] = {}
        self._prior: dict[str, dict[int, float]] = {}
        self._next_refresh: float = -math.inf

    # ---- identity ------------------------------------------------------------------------
    def _resolve(self, ref: str) -> str:
        r = _norm(ref)
        if not r:
            return ""
        if r in self._ids:
            return self._ids[r]
        if r in self._handles:
            return self._handles[r]
        return "@" + r

    def resolve(self, ref: str) -> str:
        """The author id a handle or id refers to, as far as known; ``@handle`` while unknown."""
        return self._resolve(ref)

    def _register(self, post: RawPost, now: float) -> str:
        a = post.author
        aid = a.id
        info = self._info.get(aid)
        if info is None:
            info = self._info[aid] = _Info(first_ts=now, rate_ts=now)
            self._ids[aid.lower()] = aid
        info.followers = int(a.followers)
        info.source = post.source
        placeholders = ["@" + aid.lower()]
        if a.handle:
            h = _norm(a.handle)
            info.handle = a.handle.lstrip("@")
            if self._handles.get(h) != aid:
                self._handles[h] = aid
                placeholders.append("@" + h)
        for ph in placeholders:
            for states in self._states.values():
                if ph in states:
                    self._merge(states, ph, aid)
        return aid

    def _register_id(self, ref: str) -> None:
        """Remember an author id named by a reply/repost/quote field (its author may never post)."""
        r = _norm(ref)
        if not r or r in self._ids or r in self._handles:
            return
        self._ids[r] = ref.strip().lstrip("@")
        for states in self._states.values():
            if "@" + r in states:
                self._merge(states, "@" + r, self._ids[r])

    def _merge(self, states: dict[str, _State], src_key: str, dst_key: str) -> None:
        src = states.pop(src_key)
        dst = states.get(dst_key)
        if dst is None:
            states[dst_key] = src
            return
        for b, vals in src.bins.items():
            cur = dst.bins.setdefault(b, [0.0] * 8)
            for i, v in enumerate(vals):
                cur[i] += v
        dst.old_n += src.old_n
        for s, ts in src.sources.items():
            dst.sources[s] = max(ts, dst.sources.get(s, -math.inf))
        dst.recent_refs = deque(sorted([*dst.recent_refs, *src.recent_refs]))
        dst.attention += src.attention
        dst.last_ts = max(dst.last_ts, src.last_ts)

    def _is_own(self, subject: str, key: str) -> bool:
        cands = {_norm(key)}
        info = self._info.get(key)
        if info is not None and info.handle:
            cands.add(_norm(info.handle))
        subjects = self.own_accounts.keys() if subject == _GLOBAL else (subject, _GLOBAL)
        return any(cands & self.own_accounts.get(s, set()) for s in subjects)

    # ---- observing ---------------------------------------------------------------------------
    def observe(self, post: RawPost, subjects: Sequence[str] = ("*",)) -> list[RisingVoice]:
        """Add one post (posts arrive in time order) about ``subjects``; return new rising voices."""
        cfg = self.config
        now = _ts(post.created_at)
        if self._t0 is None or now - self._now > cfg.stream_gap_h * 3600.0:
            self._t0 = now  # (re)start of observation: the gap before it is not exposure
        self._now = max(self._now, now)
        me = self._register(post, now)
        info = self._info[me]
        cred = info.credibility(now, cfg)
        info.count_post(now, cfg)
        self._recredit(info, now)
        for ref in (post.reply_to_author, post.quote_of_author, post.repost_of_author):
            if ref:
                self._register_id(ref)
        events = events_from_post(post, self._resolve, cfg.mention_cap)
        eng = post.engagement
        eng_total = eng.likes + eng.reposts + eng.replies + eng.quotes
        if self._now >= self._next_refresh:
            self._refresh()
        alerts: list[RisingVoice] = []
        subjects = list(dict.fromkeys(subjects)) or [_GLOBAL]
        for subject in subjects:
            states = self._states.setdefault(subject, {})
            if not self._is_own(subject, me):
                st = states.get(me)
                if st is None:
                    st = states[me] = self._new_state(now)
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
                    tst = states[ev.target] = self._new_state(now)
                if self._arrive(tst, ev, cred, now, subject, info) and subject == subjects[0]:
                    tinfo = self._info.get(ev.target)
                    if tinfo is not None:
                        tinfo.attention += 1.0
                alert = self._maybe_alert(subject, ev.target, tst, now)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _new_state(self, now: float) -> _State:
        st = _State(last_ts=now)
        cfg = self.config
        nb = max(1, int(round(cfg.history_h * 3600.0 / cfg.bin_s)))
        t0 = self._t0 if self._t0 is not None else now
        window_start = (int(now // cfg.bin_s) - nb + 1) * cfg.bin_s
        back = max(0.0, window_start - t0) / 3600.0  # stream seen before the kept window
        if back > 0:
            tau = cfg.baseline_tau_h
            st.old_t = tau * (1.0 - math.exp(-back / tau))
        st.folded_to = int(now // cfg.bin_s) - nb + 1
        return st

    def _recredit(self, info: _Info, now: float) -> None:
        """Re-weigh a source's arrivals of the last hour with its credibility as known now.

        An account's first post looks credible; a burst of posts minutes later shows it is not
        (fresh accounts hammering someone).  Credibility only goes down here."""
        cfg = self.config
        info.arrivals = [a for a in info.arrivals if now - a[0] < 3600.0]
        if not info.arrivals:
            return
        cred = info.credibility(now, cfg)
        for a in info.arrivals:
            _, subject, target, b, k, base, applied = a
            new = base * cred
            if new >= applied:
                continue
            vals = self._states.get(subject, {}).get(target, _State()).bins.get(b)
            if vals is not None:
                vals[k] = max(0.0, vals[k] - (applied - new))
            a[6] = new

    def _arrive(self, st: _State, ev: VoiceEvent, cred: float, now: float, subject: str = _GLOBAL,
                source: _Info | None = None) -> bool:
        cfg = self.config
        last = st.sources.get(ev.source_id)
        if last is not None and now - last < cfg.distinct_horizon_h * 3600.0:
            return False
        st.sources[ev.source_id] = now
        if len(st.sources) > cfg.max_sources:
            oldest = min(st.sources, key=st.sources.__getitem__)
            del st.sources[oldest]
        w = cred * ev.weight
        k = _KIDX[ev.kind]
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
    def _hyper(self, bucket: int) -> float:
        cfg = self.config
        followers = 0.0 if bucket == 0 else 10 ** (bucket + 0.5)
        return cfg.prior_base_per_h * (1.0 + followers / 1000.0) ** cfg.prior_size_exponent

    def _prior_rate(self, subject: str, followers: int) -> float:
        b = _bucket(followers)
        return self._prior.get(subject, {}).get(b, self._hyper(b))

    def _fold(self, st: _State, cur_bin: int) -> None:
        """Move bins older than the kept history into the decayed baseline."""
        cfg = self.config
        nb = max(1, int(round(cfg.history_h * 3600.0 / cfg.bin_s)))
        lo = cur_bin - nb + 1
        if st.folded_to is None:
            st.folded_to = lo
        if lo <= st.folded_to:
            return
        tau = cfg.baseline_tau_h
        bw_h = cfg.bin_s / 3600.0
        d = math.exp(-bw_h / tau)
        kw = self._kind_w()
        n_fold = lo - st.folded_to
        if n_fold > 4 * nb:  # long silence in the stream: closed form, bins assumed fully seen
            dn = d ** n_fold
            st.old_n = st.old_n * dn + sum(
                float(np.dot(kw, v[:4])) * d ** (lo - 1 - b) for b, v in st.bins.items() if b < lo)
            st.old_t = st.old_t * dn + bw_h * (1.0 - dn) / (1.0 - d)
        else:
            t0 = self._t0 or 0.0
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

    def _kind_w(self) -> np.ndarray:
        kw = self.config.kind_weights
        return np.array([kw.get(k, 1.0) for k in KINDS])

    def _refresh(self) -> None:
        """Re-estimate the per-decade prior, fold old bins, prune sources, evict idle authors."""
        cfg = self.config
        now = self._now
        self._next_refresh = now + cfg.prior_refresh_min * 60.0
        cur = int(now // cfg.bin_s)
        t0 = self._t0 or now
        horizon = cfg.distinct_horizon_h * 3600.0
        kw = self._kind_w()
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
                self._fold(st, cur)
                if st.sources:
                    st.sources = {s: ts for s, ts in st.sources.items() if now - ts < horizon}
                info = self._info.get(key)
                b = _bucket(info.followers if info else 0)
                n = st.old_n + sum(float(np.dot(kw, v[:4])) for v in st.bins.values())
                expo = st.old_t + (now - max(t0, (st.folded_to or cur) * cfg.bin_s)) / 3600.0
                acc = sums.setdefault(b, [0.0, 0.0])
                acc[0] += n
                acc[1] += max(expo, 0.0)
            kappa = cfg.prior_pool_hours
            self._prior[subject] = {
                b: (a + kappa * self._hyper(b)) / (e + kappa) for b, (a, e) in sums.items()}
        live: set[str] = set()
        for states in self._states.values():
            live.update(states)
        stale = [k for k, inf in self._info.items()
                 if k not in live and now - max(inf.rate_ts, inf.first_ts) > cfg.idle_evict_h * 3600.0]
        for k in stale:
            inf = self._info.pop(k)
            if self._ids.get(k.lower()) == k:
                del self._ids[k.lower()]
            h = _norm(inf.handle)
            if h and self._handles.get(h) == k:
                del self._handles[h]

    # ---- scoring --------------------------------------------------------------------------------
    def _series(self, st: _State, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Weighted counts, exposures (hours) and raw per-kind arrays over the kept bins."""
        cfg = self.config
        cur = int(now // cfg.bin_s)
        self._fold(st, cur)
        lo = st.folded_to if st.folded_to is not None else cur
        t0 = self._t0 if self._t0 is not None else now
        lo = max(lo, int(t0 // cfg.bin_s))
        n = cur - lo + 1
        per_kind = np.zeros((n, 8))
        for b, vals in st.bins.items():
            if lo <= b <= cur:
                per_kind[b - lo] = vals
        starts = (np.arange(lo, cur + 1) * cfg.bin_s)
        ends = starts + cfg.bin_s
        expo = (np.minimum(ends, now) - np.maximum(starts, t0)).clip(min=0.0) / 3600.0
        counts = per_kind[:, :4] @ self._kind_w()
        return counts, expo, per_kind, lo

    def _growth(self, subject: str, key: str, st: _State, now: float) -> _Growth | None:
        cfg = self.config
        counts, expo, _, lo = self._series(st, now)
        if counts.sum() <= 0:
            return None
        info = self._info.get(key)
        m = self._prior_rate(subject, info.followers if info else 0)
        n_prior = cfg.prior_shape + st.old_n
        t_prior = cfg.prior_shape / max(m, 1e-9) + st.old_t
        cn = np.concatenate([[0.0], np.cumsum(counts)])
        ce = np.concatenate([[0.0], np.cumsum(expo)])
        total_n, total_e = cn[-1], ce[-1]
        n0 = n_prior + cn[:-1]
        t0 = t_prior + ce[:-1]
        n1 = total_n - cn[:-1]
        t1 = total_e - ce[:-1]
        ok = (n1 > 0) & (t1 > 0) & (ce[:-1] + st.old_t >= cfg.min_baseline_h)
        if not ok.any():
            return None
        rho_t1 = cfg.growth_factor * t1
        x = np.where(ok, rho_t1 / (t0 + rho_t1), 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = betainc(np.where(ok, n1, 1.0), n0, x)
        s = np.where(ok, -np.log10(np.clip(p, 1e-300, 1.0)), 0.0)
        i = int(np.argmax(s))
        seen0 = ce[i] + st.old_t
        before = (cn[i] + st.old_n) / seen0 if seen0 > 0 else 0.0
        return _Growth(surprise=float(s[i]), change_ts=float((lo + i) * cfg.bin_s),
                       before_rate=float(before), after_rate=float(n1[i] / max(t1[i], 1e-9)),
                       after_n=float(n1[i]), prior_rate=float(m),
                       ratio=float((n1[i] / max(t1[i], 1e-9)) / (n0[i] / t0[i])))

    def _recent(self, st: _State, now: float, minutes: float) -> np.ndarray:
        """Weighted (4) and raw (4) arrivals by kind in the last ``minutes``."""
        return self._since(st, now - minutes * 60.0)

    def _since(self, st: _State, ts: float) -> np.ndarray:
        """Weighted (4) and raw (4) arrivals by kind in the bins from the one holding ``ts`` on."""
        lo = int(ts // self.config.bin_s)
        out = np.zeros(8)
        for b, vals in st.bins.items():
            if b >= lo:
                out += vals
        return out

    def _evaluate(self, subject: str, key: str, st: _State, now: float) -> dict[str, Any] | None:
        cfg = self.config
        g = self._growth(subject, key, st, now)
        if g is None:
            return None
        kw = self._kind_w()
        recent = self._recent(st, now, cfg.short_window_min)
        recent_w = float(recent[:4] @ kw)
        reach_v = self._recent(st, now, cfg.reach_window_h * 60.0)
        reach = float(reach_v[:4] @ kw)
        w_h = cfg.short_window_min / 60.0
        currentness = min(1.0, (recent_w + 1.0) / (0.5 * g.after_rate * w_h + 1.0)) ** cfg.currentness_power
        ratio_factor = min(1.0, math.log(max(g.ratio, 1.0)) / math.log(cfg.full_ratio))
        info = self._info.get(key)
        followers = info.followers if info else 0
        engs = [e for ts, e in st.posts if now - ts <= cfg.history_h * 3600.0]
        padded = engs + [0] * max(0, cfg.resonance_min_posts - len(engs))
        resonance = float(np.median(padded)) if padded else 0.0
        if subject == _GLOBAL or info is None:
            relevance = 1.0
        else:
            relevance = min(1.0, (st.n_posts + st.attention + 1.0) / (info.posts + info.attention + 1.0))
        size = 1.0 / (1.0 + math.sqrt(max(followers, 0) / cfg.big_account_followers))
        conc = self._concentration(st, now)
        conc_factor = 1.0 - max(0.0, conc - 0.5)
        rise = self._since(st, g.change_ts)
        by_kind = rise[:4] * kw
        rise_w = float(by_kind.sum())
        conv = float(by_kind[:2].sum()) / rise_w if rise_w > 0 else 0.0
        # optimistic (upper-quantile) conversational share: few arrivals get the benefit of the doubt
        conv_hi = float(betaincinv(by_kind[:2].sum() + 0.5, by_kind[2:].sum() + 0.5,
                                   cfg.conversational_quantile))
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
                "conversational": conv, "conversational_hi": conv_hi, "kind_share": kind_share, "concentration": conc, "followers": followers,
                "n_posts": len(engs), "currentness": currentness, "size": size}

    def _concentration(self, st: _State, now: float) -> float:
        """Share of recent weighted attention that points at one post (0 when too little)."""
        horizon = now - self.config.short_window_min * 60.0
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

    def _handle_of(self, key: str) -> str:
        """The author's handle; a key that is not a numeric id stands for its handle while unknown."""
        info = self._info.get(key)
        if info is not None and info.handle:
            return info.handle
        bare = key.lstrip("@")
        return "" if bare.isdigit() else bare

    def _facts(self, ev: dict[str, Any], key: str) -> dict[str, Any]:
        """What was measured, in units a person reads (people, per hour), plus the statistics."""
        g: _Growth = ev["growth"]
        raw = ev["recent"][4:]
        info = self._info.get(key)
        return {
            **{f"people_{k}": float(raw[i]) for i, k in enumerate(KINDS)},
            "usual_per_h": g.before_rate, "rate_now_per_h": g.after_rate, "ratio": g.ratio,
            "rising_since": _dt(g.change_ts), "followers": ev["followers"], "resonance": ev["resonance"],
            "n_posts": ev["n_posts"], "relevance": ev["relevance"], "conversational": ev["conversational"],
            "concentration": ev["concentration"], "surprise": g.surprise,
            "p_value": 10.0 ** -g.surprise, "source": info.source if info else "",
        }

    def _reasons(self, ev: dict[str, Any], subject: str, key: str) -> list[str]:
        facts = {**self._facts(ev, key), "author_id": key, "handle": self._handle_of(key)}
        return voice_reasons(facts, subject, self.config.short_window_min)

    def _maybe_alert(self, subject: str, key: str, st: _State, now: float) -> RisingVoice | None:
        cfg = self.config
        if self._t0 is None or now - self._t0 < cfg.warmup_min * 60.0:
            return None
        if st.last_alert is not None and now - st.last_alert < cfg.alert_cooldown_h * 3600.0:
            return None
        if now - st.last_eval < cfg.eval_interval_s:
            return None
        recent = self._recent(st, now, cfg.short_window_min)
        if float(recent[:4] @ self._kind_w()) < cfg.alert_min_distinct:
            return None
        st.last_eval = now
        ev = self._evaluate(subject, key, st, now)
        if ev is None:
            return None
        g: _Growth = ev["growth"]
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
                           subject=subject, score=float(ev["score"]), at=_dt(now),
                           reasons=self._reasons(ev, subject, key), facts=self._facts(ev, key))

    # ---- listing ----------------------------------------------------------------------------------
    def ranking(self, subject: str = "*", now: datetime | None = None, k: int = 20) -> list[VoiceRank]:
        """Current emerging voices of ``subject``, best first, with human-readable reasons."""
        cfg = self.config
        t = _ts(now) if now is not None else self._now
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

    # ---- state -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of the whole tracker (config included)."""
        def state(st: _State) -> dict[str, Any]:
            return {
                "bins": [[b, *v] for b, v in sorted(st.bins.items())],
                "old_n": st.old_n, "old_t": st.old_t, "folded_to": st.folded_to,
                "sources": st.sources, "posts": [list(p) for p in st.posts],
                "recent_refs": [list(r) for r in st.recent_refs], "last_post": st.last_post,
                "last_post_ts": st.last_post_ts if math.isfinite(st.last_post_ts) else None,
                "n_posts": st.n_posts, "attention": st.attention,
                "last_ts": st.last_ts, "last_alert": st.last_alert,
            }
        return {
            "version": 1,
            "config": asdict(self.config),
            "own_accounts": {s: sorted(v) for s, v in self.own_accounts.items()},
            "t0": self._t0, "now": self._now, "next_refresh": self._next_refresh
            if math.isfinite(self._next_refresh) else None,
            "info": {k: asdict(v) for k, v in self._info.items()},
            "ids": self._ids, "handles": self._handles,
            "prior": {s: {str(b): m for b, m in p.items()} for s, p in self._prior.items()},
            "states": {s: {k: state(st) for k, st in sts.items()} for s, sts in self._states.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VoiceTracker:
        """Rebuild a tracker from :meth:`to_dict` output."""
        tr = cls(VoiceConfig(**d["config"]), {s: set(v) for s, v in d.get("own_accounts", {}).items()})
        tr._t0 = d["t0"]
        tr._now = d["now"]
        tr._next_refresh = d["next_refresh"] if d.get("next_refresh") is not None else -math.inf
        tr._info = {k: _Info(**v) for k, v in d["info"].items()}
        tr._ids = dict(d["ids"])
        tr._handles = dict(d["handles"])
        tr._prior = {s: {int(b): float(m) for b, m in p.items()} for s, p in d["prior"].items()}
        for s, sts in d["states"].items():
            out = tr._states.setdefault(s, {})
            for k, v in sts.items():
                out[k] = _State(
                    bins={int(row[0]): [float(x) for x in row[1:]] for row in v["bins"]},
                    old_n=v["old_n"], old_t=v["old_t"], folded_to=v["folded_to"],
                    sources=dict(v["sources"]), posts=deque((float(a), int(b)) for a, b in v["posts"]),
                    recent_refs=deque((float(a), str(b), float(c)) for a, b, c in v["recent_refs"]),
                    last_post=v["last_post"],
                    last_post_ts=v["last_post_ts"] if v["last_post_ts"] is not None else -math.inf,
                    n_posts=v["n_posts"], attention=v["attention"],
                    last_ts=v["last_ts"], last_alert=v["last_alert"])
        return tr


def replay(posts: Iterable[RawPost], tracker: VoiceTracker | None = None,
           subjects: Sequence[str] = ("*",)) -> tuple[VoiceTracker, list[RisingVoice]]:
    """Feed ``posts`` (time-ordered) into a tracker; return it with every alert raised."""
    tr = tracker or VoiceTracker()
    alerts: list[RisingVoice] = []
    for p in posts:
        alerts.extend(tr.observe(p, subjects))
    return tr, alerts
