"""Every tunable of the emerging-voices tracker, each with the reason for its default."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["VoiceConfig"]


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
