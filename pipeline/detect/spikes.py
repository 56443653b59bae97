"""Streaming negative-buzz spike detector: one small state machine per subject.

The same :class:`SpikeDetector` runs in the live pipeline (60-s bucket counts per brand,
topic or brand x topic) and in the NAB evaluation (5-min counts).  It reads buckets in time
order, only uses the past, and keeps ~6 KB of JSON state (``to_dict``/``from_dict``).

How it decides (details and tuning in ``docs/spikes.md``):

* **Baseline.** Expected count ``mu = exp(level + daily + weekly profile) - c`` on the scale
  ``log(count + c)``.  The level is an EWMA fed *winsorised* residuals (clipped to
  ``+-winsor_z`` robust deviations); the half-hour-of-day and day-of-week profiles take one
  averaged, winsorised update per slot and day, so a burst moves the baseline by a bounded
  amount and only after it is over.  The profiles are blended in over ``season_min_days`` /
  ``weekly_min_days`` (short histories get a flat baseline).  Missing buckets are zeros.
* **Two statistics.** The bucket's Anscombe residual ``2 (sqrt(x + 3/8) - sqrt(mu + 3/8))``
  (sudden bursts, count-aware) and a *sustained* log-ratio of EWMAs of the counts and of
  ``mu`` (half-life ``burst_halflife_s``), a leaky accumulator for persistent rises.
* **Thresholds calibrated on the subject's own history.** Each statistic fires above a
  multiple of its own upper quantile over the recent past (a time-decayed histogram with a
  prior for short histories and a floor).  Values enter clipped at the threshold and behind
  a guard band (``tail_guard_s``), so a developing rise does not lift its own bar; buckets of
  an incident are left out of the bucket statistic's history (a past spike does not hide the
  next one) but are learnt by the sustained one (a new elevated regime raises its bar).
* **Count-aware guards** (low volumes): an absolute floor ``min_count``, a minimum excess,
  a minimum ratio and a Poisson tail probability (``poisson_alpha``) at the expected mean;
  0 -> 2 is never a crisis.  With totals, the negative share must also rise significantly
  above its own baseline (binomial tail, ``share_alpha``).
* **Alert hygiene.** After an alert the subject is in an incident until both statistics
  stayed below ``rearm_level`` x their thresholds for ``rearm_s``; alerts are at least
  ``cooldown_s`` apart and at most ``max_alerts_per_day`` per subject.

``final=False`` marks an open bucket whose count can only grow: it may fire early, never
updates the baseline, and a bucket (or incident) fires at most once.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from scipy.special import bdtrc, pdtrc

__all__ = ["Detection", "SpikeConfig", "SpikeDetector", "SpikeMonitor"]

_DAY_S = 86_400
_ABS_DEV_TO_SD = math.sqrt(math.pi / 2)  # E|N(0, s)| = s * sqrt(2 / pi)
_HIST_BINS = 400
_LOG_STEP = 0.02  # histogram bin width of the sustained (log-ratio) statistic: range 0..8
_ANSCOMBE_STEP = 0.25  # histogram bin width of the bucket (Anscombe) statistic: range 0..100
STATE_VERSION = 2


@dataclass
class SpikeConfig:
    """All tunables of the spike detector; durations are seconds so they hold at any bucket width.

    The defaults are the live configuration (60-s per-brand buckets, checked by the tests);
    ``pipeline.detect.eval_spikes.NAB_CONFIG`` is the one configuration scored on NAB
    realTweets.  Both are discussed in ``docs/spikes.md``.
    """

    # --- baseline
    pseudo_count: float = 1.0
    """``c`` in ``log(count + c)``: damps relative changes of tiny counts."""
    level_halflife_s: float = 2 * _DAY_S
    """Half-life of the de-seasonalised level EWMA."""
    seasonal: bool = True
    """Learn a time-of-day profile (only where a slot holds at least two buckets)."""
    season_slots: int = 48
    """Slots per day of the daily profile (48 = half-hourly)."""
    season_halflife_days: float = 7.0
    """Half-life, in days, of each daily-profile slot."""
    season_min_days: float = 3.0
    """The daily profile is blended in linearly over this many days of history."""
    weekly: bool = True
    """Learn a day-of-week profile as well (needs buckets shorter than half a day)."""
    weekly_halflife_weeks: float = 3.0
    """Half-life, in weeks, of each day-of-week slot."""
    weekly_min_days: float = 14.0
    """The day-of-week profile is blended in linearly over this many days of history."""
    scale_halflife_s: float = 3 * _DAY_S
    """Half-life of the robust residual scale used to winsorise baseline updates."""
    scale_floor: float = 0.1
    """Lower bound of the residual standard deviation on the log scale."""
    winsor_z: float = 2.0
    """Residuals are clipped to +-winsor_z deviations before updating the baseline."""
    max_gap_fill_s: float = 14 * _DAY_S
    """Longest gap replayed as zero buckets (a longer one replays only its last part)."""
    # --- statistics and thresholds
    burst_halflife_s: float = 3600.0
    """Half-life of the EWMAs behind the sustained statistic (persistence)."""
    tail_quantile: float = 0.99
    """Each statistic's threshold is a multiple of this quantile of its own past values."""
    bucket_tail_quantile: float = 0.999
    """Quantile behind the bucket statistic's threshold (heavy-tailed series get a high bar)."""
    tail_halflife_s: float = 14 * _DAY_S
    """Half-life of the history behind those quantiles."""
    tail_prior: float = 1.0
    """Sustained statistic's quantile assumed before there is history (log-ratio; 1.0 = 2.7x)."""
    bucket_tail_prior: float = 3.0
    """Bucket statistic's quantile assumed before there is history (Anscombe units ~ Poisson z)."""
    tail_prior_s: float = _DAY_S
    """Weight of that prior, as a duration of history."""
    tail_guard_s: float = 6 * 3600.0
    """Guard band: the statistics' most recent values enter their histories only after this
    delay, so a developing rise does not raise its own bar (as in CFAR detectors)."""
    tail_floor: float = 0.2
    """Lower bound of the sustained quantile (log-ratio), so smooth series need a visible rise."""
    bucket_tail_floor: float = 1.0
    """Lower bound of the bucket quantile (Anscombe units), for near-empty series."""
    threshold: float = 1.1
    """Sustained statistic fires above ``threshold x`` its quantile."""
    bucket_threshold: float = 2.5
    """Bucket statistic fires above ``bucket_threshold x`` its quantile (sudden spikes)."""
    warmup_s: float = 3600.0
    """No alerts before this much history."""
    # --- count-aware guards
    min_count: float = 5.0
    """Absolute floor: fewer negative mentions (in the bucket, or in the recent window for the
    sustained statistic) never fire."""
    min_excess: float = 3.0
    """Observed minus expected count must reach this (same units as ``min_count``)."""
    min_ratio: float = 1.5
    """Observed / expected count must reach this."""
    poisson_alpha: float = 1e-3
    """Poisson tail probability of the count at the expected mean must be below this."""
    # --- negative share (only when totals are given)
    require_share_shift: bool = True
    """When totals are given, the negative share must also rise above its baseline."""
    share_alpha: float = 0.01
    """Binomial tail probability of the negative count given the total and baseline share."""
    share_min_delta: float = 0.05
    """Negative share must exceed the baseline share by at least this much."""
    share_halflife_s: float = 3 * _DAY_S
    """Half-life of the baseline negative share (count-weighted EWMA)."""
    # --- alert hygiene
    cooldown_s: float = 1800.0
    """Minimum time between two alerts of one subject."""
    rearm_level: float = 0.8
    """An incident ends once both statistics stay below ``rearm_level x`` their thresholds ..."""
    rearm_s: float = 600.0
    """... for this long; until then the subject does not alert again."""
    max_alerts_per_day: int = 3
    """Per-subject cap on alerts in any rolling 24 h."""
    severity_ratio_ref: float = 16.0
    """observed / expected ratio that maps to severity 1.0 (log scale; 2x -> 0.25)."""

    def __post_init__(self) -> None:
        if self.pseudo_count <= 0:
            raise ValueError("pseudo_count must be > 0")
        if self.season_slots < 1:
            raise ValueError("season_slots must be >= 1")
        if not (0.5 < self.tail_quantile < 1 and 0.5 < self.bucket_tail_quantile < 1):
            raise ValueError("tail quantiles must be in (0.5, 1)")
        floors = (
            self.threshold,
            self.bucket_threshold,
            self.scale_floor,
            self.tail_floor,
            self.bucket_tail_floor,
        )
        if min(floors) <= 0:
            raise ValueError("thresholds and floors must be > 0")
        if self.severity_ratio_ref <= 1:
            raise ValueError("severity_ratio_ref must be > 1")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpikeConfig:
        """Build from a mapping, ignoring unknown keys."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Detection:
    """An alert raised for one bucket of one subject."""

    ts: datetime
    """Timestamp of the bucket that fired (as passed to ``update``)."""
    observed: float
    """Negative mentions per bucket: the bucket's count, or the recent (EWMA) rate when a
    sustained rise fired."""
    expected: float
    """Baseline for ``observed``, same units."""
    score: float
    """Severity: ``log(ratio) / log(severity_ratio_ref)``; 0..1, above 1 for bigger ratios."""
    p_value: float
    """Poisson tail probability of ``observed`` at ``expected`` (or the binomial share test
    when larger); a lower bound for over-dispersed counts."""
    negative_share: float | None
    baseline_share: float | None
    explanation: str
    """One sentence: observed vs expected and, with totals, the negative share."""
    strength: float = 0.0
    """Statistic / threshold of the path that fired (>= 1)."""
    sustained: bool = False
    """True when the sustained (EWMA) statistic fired, False for a sudden bucket spike."""
    final: bool = True
    """False when it fired on a still-open bucket."""


class _TailHistogram:
    """Time-decayed histogram of a statistic with an O(1) running upper quantile.

    One call per final bucket: :meth:`add` (an entry, then time advances) or :meth:`skip`
    (time advances only).  Older entries decay by a constant factor per bucket; instead of
    shrinking every bin, each new entry gets a growing weight (rescaled exactly by a power of
    two when it gets large).  Bin 0 holds values <= 0, bin ``k >= 1`` values in
    ``[(k-1) step, k step)``.  ``ptr`` is the highest bin such that the mass in bins
    ``>= ptr`` still reaches ``(1 - tau)`` of the total, i.e. the ``tau`` quantile.
    """

    __slots__ = ("above", "bins", "growth", "ptr", "step", "tau", "total", "weight")

    def __init__(
        self, tau: float, growth: float, step: float, state: dict[str, Any] | None = None
    ) -> None:
        self.tau = tau
        self.growth = growth
        self.step = step
        st = state or {}
        self.bins = array("d", bytes(8 * (_HIST_BINS + 1)))  # compact: ~3 KB per histogram
        for k, v in st.get("bins", []):  # sparse: [bin, mass] pairs
            self.bins[int(k)] = float(v)
        self.total: float = st.get("total", 0.0)
        self.weight: float = st.get("weight", 1.0)
        self.ptr: int = st.get("ptr", 0)
        self.above: float = st.get("above", 0.0)  # mass in bins >= ptr

    def state(self) -> dict[str, Any]:
        return {
            "bins": [[k, v] for k, v in enumerate(self.bins) if v != 0.0],
            "total": self.total,
            "weight": self.weight,
            "ptr": self.ptr,
            "above": self.above,
        }

    def bin_of(self, value: float) -> int:
        return 0 if value <= 0 else min(_HIST_BINS, 1 + int(value / self.step))

    def mass(self) -> float:
        """Decayed number of entries."""
        return self.total / self.weight

    def quantile(self) -> float:
        """Upper edge of the bin holding the ``tau`` quantile (0 when empty)."""
        return self.ptr * self.step if self.total > 0 else 0.0

    def skip(self) -> None:
        """Let one bucket pass without an entry (older entries still decay)."""
        self._grow()

    def add(self, k: int) -> None:
        """Add an entry to bin ``k`` and let one bucket pass."""
        self.insert(k)
        self._grow()

    def insert(self, k: int) -> None:
        """Add an entry to bin ``k`` at the current weight (time does not advance)."""
        w = self.weight
        self.bins[k] += w
        self.total += w
        if k >= self.ptr:
            self.above += w
        target = (1.0 - self.tau) * self.total
        bins = self.bins
        while self.ptr < _HIST_BINS and self.above - bins[self.ptr] >= target:
            self.above -= bins[self.ptr]
            self.ptr += 1
        while self.ptr > 0 and self.above < target:
            self.ptr -= 1
            self.above += bins[self.ptr]

    def _grow(self) -> None:
        self.weight *= self.growth
        if self.weight > 2.0**300:
            scale = -300
            self.bins = array("d", (math.ldexp(b, scale) for b in self.bins))
            self.total = math.ldexp(self.total, scale)
            self.above = math.ldexp(self.above, scale)
            self.weight = math.ldexp(self.weight, scale)


def _halflife_alpha(halflife_steps: float) -> float:
    return 1.0 - 0.5 ** (1.0 / max(halflife_steps, 1e-9))


def _epoch_s(ts: datetime) -> float:
    return (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts).timestamp()


@dataclass
class _State:
    n_final: int = 0  # final buckets seen (gap zeros included)
    last_idx: int | None = None  # index of the last final bucket
    level: float | None = None
    scale_abs: float = 0.0  # EWMA of |clipped residual|
    scale_n: int = 0
    season: list[float] = field(default_factory=list)
    season_n: list[int] = field(default_factory=list)
    season_mean: float = 0.0  # mean of the daily profile (the profile is used centred)
    season_key: int | None = None  # absolute slot being accumulated
    season_acc: float = 0.0
    season_cnt: int = 0
    week: list[float] = field(default_factory=list)  # day-of-week profile
    week_n: list[int] = field(default_factory=list)
    week_mean: float = 0.0
    week_key: int | None = None  # absolute day being accumulated
    week_acc: float = 0.0
    week_cnt: int = 0
    fast_x: float = 0.0  # EWMA of counts
    fast_mu: float = 0.0  # EWMA of expected counts
    tail_one: dict[str, Any] = field(default_factory=dict)  # _TailHistogram state, bucket statistic
    tail_fast: dict[str, Any] = field(default_factory=dict)  # same, sustained statistic
    guard_one: array = field(default_factory=lambda: array("H"))  # held-back bins (guard band)
    guard_fast: array = field(default_factory=lambda: array("H"))
    share_neg: float = 0.0  # EWMA of negative counts of buckets with a total
    share_tot: float = 0.0  # EWMA of totals
    fast_neg: float = 0.0  # EWMA of negative counts of buckets with a total (sustained share)
    fast_tot: float = 0.0
    fired_idx: int | None = None  # bucket of the last alert
    incident: bool = False  # an alert is out and the subject has not calmed down since
    calm_since: int | None = None  # first final bucket of the current calm stretch
    alert_idx: list[int] = field(default_factory=list)  # recent alert buckets (frequency cap)
    open_idx: int | None = None  # last open (partial) bucket seen, used if its final never comes
    open_negative: float = 0.0
    open_total: float | None = None


@dataclass
class _Eval:
    """Everything computed for one bucket before deciding."""

    mu: float
    r_one: float
    r_fast: float
    thr_one: float
    thr_fast: float
    fast_x: float
    fast_mu: float
    fast_neg: float
    fast_tot: float


class SpikeDetector:
    """Negative-mention spike detector for one subject (see the module docstring)."""

    def __init__(self, config: SpikeConfig | None = None, bucket_s: int = 60) -> None:
        if bucket_s <= 0:
            raise ValueError("bucket_s must be > 0")
        self.config = config or SpikeConfig()
        self.bucket_s = int(bucket_s)
        c = self.config
        b = self.bucket_s
        per_day = _DAY_S / b
        self._per_day = per_day
        # a daily profile needs at least two buckets per slot
        self._slots = c.season_slots if per_day >= 2 * c.season_slots else max(1, int(per_day // 2))
        self._daily = c.seasonal and self._slots > 1
        self._weekly = c.weekly and per_day >= 2
        self._a_week = _halflife_alpha(c.weekly_halflife_weeks)  # one update per weekday a week
        self._week_ramp = max(1.0, c.weekly_min_days * per_day)
        self._a_level = _halflife_alpha(c.level_halflife_s / b)
        self._a_scale = _halflife_alpha(c.scale_halflife_s / b)
        self._a_share = _halflife_alpha(c.share_halflife_s / b)
        self._a_season = _halflife_alpha(c.season_halflife_days)  # one update per slot a day
        self._a_fast = _halflife_alpha(c.burst_halflife_s / b)
        self._n_eff = (2.0 - self._a_fast) / self._a_fast  # Poisson-equivalent window of the EWMA
        self._hist_growth = 0.5 ** (-b / c.tail_halflife_s)
        self._prior_mass = c.tail_prior_s / b
        self._guard = max(0, math.ceil(c.tail_guard_s / b))
        self._warmup = math.ceil(c.warmup_s / b)
        self._season_ramp = max(1.0, c.season_min_days * per_day)
        self._cooldown = math.ceil(c.cooldown_s / b)
        self._rearm = max(1, math.ceil(c.rearm_s / b))
        self._day_buckets = max(1, round(per_day))
        self._max_fill = max(1, math.ceil(c.max_gap_fill_s / b))
        self._thr_cache: tuple[float, float] | None = None
        self.s = _State(
            season=[0.0] * self._slots,
            season_n=[0] * self._slots,
            week=[0.0] * 7,
            week_n=[0] * 7,
        )
        self._h_one = _TailHistogram(c.bucket_tail_quantile, self._hist_growth, _ANSCOMBE_STEP)
        self._h_fast = _TailHistogram(c.tail_quantile, self._hist_growth, _LOG_STEP)

    # ------------------------------------------------------------------ baseline
    def _slot(self, idx: int) -> int:
        return int(((idx * self.bucket_s) % _DAY_S) * self._slots // _DAY_S)

    def _weekday(self, idx: int) -> int:
        return (idx * self.bucket_s // _DAY_S) % 7

    def _log_expected(self, idx: int, learning: bool = False) -> float:
        """Expected ``log(count + c)``; the daily profile is ramped in for detection only."""
        s = self.s
        c = self.config.pseudo_count
        y_hat = s.level if s.level is not None else math.log(c)
        if self._daily:
            weight = 1.0 if learning else min(1.0, s.n_final / self._season_ramp)
            y_hat += (s.season[self._slot(idx)] - s.season_mean) * weight
        if self._weekly:
            weight = 1.0 if learning else min(1.0, s.n_final / self._week_ramp)
            y_hat += (s.week[self._weekday(idx)] - s.week_mean) * weight
        return y_hat

    def _sd(self) -> float:
        s = self.s
        if s.scale_n == 0:
            return max(self.config.scale_floor, 0.5)
        return max(self.config.scale_floor, s.scale_abs * _ABS_DEV_TO_SD)

    @property
    def baseline_share(self) -> float | None:
        """Baseline negative share (None until totals were seen)."""
        s = self.s
        if s.share_tot <= 0:
            return None
        return min(max(s.share_neg / s.share_tot, 0.0), 1.0)

    # ------------------------------------------------------------------ tail thresholds
    def _quantile(self, hist: _TailHistogram, prior_q: float, floor: float) -> float:
        """Upper quantile of a tail histogram, blended with a prior while history is short."""
        mass = hist.mass()
        prior = self._prior_mass
        q = (mass * hist.quantile() + prior * prior_q) / (mass + prior)
        return max(q, floor)

    def _thresholds(self) -> tuple[float, float]:
        if self._thr_cache is None:
            c = self.config
            self._thr_cache = (
                c.bucket_threshold
                * self._quantile(self._h_one, c.bucket_tail_prior, c.bucket_tail_floor),
                c.threshold * self._quantile(self._h_fast, c.tail_prior, c.tail_floor),
            )
        return self._thr_cache

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, idx: int, negative: float, total: float | None) -> _Eval:
        s = self.s
        c = self.config.pseudo_count
        y_hat = self._log_expected(idx)
        mu = max(math.exp(y_hat) - c, 0.0)
        a = self._a_fast
        x = max(negative, 0.0)
        fast_x = s.fast_x + a * (x - s.fast_x)
        fast_mu = s.fast_mu + a * (mu - s.fast_mu)
        fast_neg, fast_tot = s.fast_neg, s.fast_tot
        if total is not None and total > 0:
            fast_neg += a * (x - fast_neg)
            fast_tot += a * (total - fast_tot)
        thr_one, thr_fast = self._thresholds()
        return _Eval(
            mu=mu,
            r_one=2.0 * (math.sqrt(x + 0.375) - math.sqrt(mu + 0.375)),
            r_fast=math.log((fast_x + c) / (fast_mu + c)),
            thr_one=thr_one,
            thr_fast=thr_fast,
            fast_x=fast_x,
            fast_mu=fast_mu,
            fast_neg=fast_neg,
            fast_tot=fast_tot,
        )

    def _counts_ok(self, observed: float, expected: float) -> tuple[bool, float]:
        """Floor, excess, ratio and Poisson-tail guards on counts; returns (ok, p_value)."""
        c = self.config
        if observed < c.min_count or observed - expected < c.min_excess:
            return False, 1.0
        if observed < c.min_ratio * expected:
            return False, 1.0
        k = max(math.ceil(observed) - 1, 0)
        p = float(pdtrc(k, max(expected, 1e-9)))
        return p <= c.poisson_alpha, p

    def _share_ok(self, negative: float, total: float, base: float | None) -> tuple[bool, float]:
        c = self.config
        if not c.require_share_shift or base is None or total <= 0:
            return True, 1.0
        share = negative / total
        k = math.ceil(negative) - 1
        p = float(bdtrc(k, math.floor(total), base)) if k >= 0 else 1.0
        return (p <= c.share_alpha and share >= base + c.share_min_delta), p

    def _blocked(self, idx: int) -> bool:
        s = self.s
        if s.incident or s.n_final < self._warmup or s.fired_idx == idx:
            return True
        if s.fired_idx is not None and idx - s.fired_idx < self._cooldown:
            return True
        recent = sum(1 for j in s.alert_idx if idx - j < self._day_buckets)
        return recent >= self.config.max_alerts_per_day

    # ------------------------------------------------------------------ public
    def update(
        self, ts: datetime, negative: float, total: float | None = None, final: bool = True
    ) -> Detection | None:
        """Feed one bucket; returns a :class:`Detection` when it raises an alert.

        ``ts`` is any time inside the bucket.  Final buckets must come in time order; data for
        a bucket at or before the last final one is ignored and skipped buckets count as zeros.
        ``final=False``: the bucket is still open (its count can only grow); it is judged
        against the baseline so far, and buckets before it may still be finalised.
        """
        s = self.s
        idx = math.floor(_epoch_s(ts) / self.bucket_s)
        if s.last_idx is not None and idx <= s.last_idx:
            return None  # late or repeated data of a closed bucket
        if final:
            self._fill_gap(idx)
        else:
            # an open bucket closes nothing: earlier buckets may still get their final counts
            s.open_idx, s.open_negative, s.open_total = idx, negative, total
        if s.level is None:  # very first bucket: nothing to compare with yet
            if final:
                self._learn(idx, negative, total, None)
            return None
        ev = self._evaluate(idx, negative, total)
        detection = None if self._blocked(idx) else self._decide(ts, negative, total, ev, final)
        if detection is not None:
            s.fired_idx = idx
            s.incident = True
            s.calm_since = None
            s.alert_idx = [j for j in s.alert_idx if idx - j < self._day_buckets] + [idx]
        if final:
            self._learn(idx, negative, total, ev)
        return detection

    def _decide(
        self, ts: datetime, negative: float, total: float | None, ev: _Eval, final: bool
    ) -> Detection | None:
        n = self._n_eff
        base_share = self.baseline_share
        candidates: list[tuple[bool, float, float, float, float, float, float]] = []
        if ev.r_one >= ev.thr_one:
            ok, p = self._counts_ok(negative, ev.mu)
            if ok and total is not None:
                ok, p2 = self._share_ok(negative, total, base_share)
                p = max(p, p2)
            if ok:
                candidates.append((False, ev.r_one / ev.thr_one, negative, ev.mu, p, ev.r_one, 1.0))
        if ev.r_fast >= ev.thr_fast:
            ok, p = self._counts_ok(ev.fast_x * n, ev.fast_mu * n)
            if ok and total is not None and ev.fast_tot > 0:
                ok, p2 = self._share_ok(ev.fast_neg * n, ev.fast_tot * n, base_share)
                p = max(p, p2)
            if ok:
                candidates.append(
                    (True, ev.r_fast / ev.thr_fast, ev.fast_x, ev.fast_mu, p, ev.r_fast, n)
                )
        if not candidates:
            return None
        sustained, strength, obs, exp, p, _, _ = max(candidates, key=lambda t: t[1])
        share = None
        if total is not None and total > 0:
            share = min(max(negative / total, 0.0), 1.0)
            if sustained and ev.fast_tot > 0:
                share = min(max(ev.fast_neg / ev.fast_tot, 0.0), 1.0)
        return self._make_detection(ts, obs, exp, p, share, base_share, strength, sustained, final)

    def _learn(self, idx: int, negative: float, total: float | None, ev: _Eval | None) -> None:
        """Update baseline, EWMAs, histograms and re-arming with a final bucket."""
        s = self.s
        c = self.config
        x = max(negative, 0.0)
        y = math.log(x + c.pseudo_count)
        if s.level is None:
            s.level = y
        if ev is None:
            ev = self._evaluate(idx, x, total)
        # Tail histograms.  Values enter clipped at the current thresholds, behind a guard
        # band of tail_guard_s (as in CFAR detectors) so that a developing rise does not lift
        # its own bar.  During an incident, the bucket statistic's values are dropped (a past
        # spike does not hide the next one), while the sustained statistic's held-back and
        # current values are learnt at once (a new elevated regime raises the bar instead of
        # re-alerting).
        k_one = self._h_one.bin_of(min(ev.r_one, ev.thr_one))
        k_fast = self._h_fast.bin_of(min(ev.r_fast, ev.thr_fast))
        if s.incident:
            self._h_one.skip()
            for k in s.guard_fast:
                self._h_fast.insert(k)
            del s.guard_fast[:]
            self._h_fast.add(k_fast)
        else:
            for guard, hist, k in (
                (s.guard_one, self._h_one, k_one),
                (s.guard_fast, self._h_fast, k_fast),
            ):
                guard.append(k)
                if len(guard) > self._guard:
                    hist.add(guard.pop(0))
                else:
                    hist.skip()
        self._thr_cache = None
        # the incident ends once both statistics stayed below rearm_level x their
        # thresholds for rearm_s
        if ev.r_one < c.rearm_level * ev.thr_one and ev.r_fast < c.rearm_level * ev.thr_fast:
            if s.calm_since is None:
                s.calm_since = idx
            if idx - s.calm_since + 1 >= self._rearm:
                s.incident = False
        else:
            s.calm_since = None
        # EWMAs of the sustained statistic
        s.fast_x, s.fast_mu = ev.fast_x, ev.fast_mu
        s.fast_neg, s.fast_tot = ev.fast_neg, ev.fast_tot
        # winsorised baseline update (Holt-Winters style, log scale)
        r = y - self._log_expected(idx, learning=True)
        lim = c.winsor_z * self._sd()
        rw = min(max(r, -lim), lim)
        a_level = max(self._a_level, 1.0 / (s.n_final + 1))  # running mean while history is short
        s.level += a_level * rw
        if self._daily:
            self._learn_season(idx * self.bucket_s * self._slots // _DAY_S, rw)
        if self._weekly:
            self._learn_week(idx * self.bucket_s // _DAY_S, rw)
        s.scale_n += 1
        a = max(self._a_scale, 1.0 / s.scale_n)
        s.scale_abs += a * (abs(rw) - s.scale_abs)
        if total is not None and total > 0:
            base = self.baseline_share
            neg = x
            if base is not None:  # winsorised: a burst of negativity moves it a bounded amount
                neg = min(
                    neg, total * base + c.winsor_z * math.sqrt(total * base * (1 - base)) + 1.0
                )
            s.share_neg += self._a_share * (neg - s.share_neg)
            s.share_tot += self._a_share * (total - s.share_tot)
        s.n_final += 1
        s.last_idx = idx

    def _learn_season(self, key: int, rw: float) -> None:
        """Average the residuals of one day's slot; fold them in when the slot is over.

        One update per slot and day (rate ``1/days`` at first, then the half-life), so a
        burst can move the profile only after its hour and only by its share of the days.
        """
        s = self.s
        if s.season_key is not None and key != s.season_key and s.season_cnt > 0:
            k = s.season_key % self._slots
            s.season_n[k] += 1
            delta = max(self._a_season, 1.0 / s.season_n[k]) * s.season_acc / s.season_cnt
            s.season[k] += delta
            s.season_mean += delta / self._slots
            s.season_acc, s.season_cnt = 0.0, 0
        s.season_key = key
        s.season_acc += rw
        s.season_cnt += 1

    def _learn_week(self, key: int, rw: float) -> None:
        """Same as :meth:`_learn_season` for the day-of-week profile (one update per day)."""
        s = self.s
        if s.week_key is not None and key != s.week_key and s.week_cnt > 0:
            k = s.week_key % 7
            s.week_n[k] += 1
            delta = max(self._a_week, 1.0 / s.week_n[k]) * s.week_acc / s.week_cnt
            s.week[k] += delta
            s.week_mean += delta / 7
            s.week_acc, s.week_cnt = 0.0, 0
        s.week_key = key
        s.week_acc += rw
        s.week_cnt += 1

    def _fill_gap(self, idx: int) -> None:
        last = self.s.last_idx
        if last is None or idx <= last + 1:
            return
        s = self.s
        for j in range(max(last + 1, idx - self._max_fill), idx):
            if j == s.open_idx:  # an open bucket whose final update never came: keep its count
                self._learn(j, s.open_negative, s.open_total, None)
            else:
                self._learn(j, 0.0, None, None)
        s.last_idx = idx - 1

    def _make_detection(
        self,
        ts: datetime,
        observed: float,
        expected: float,
        p_value: float,
        share: float | None,
        baseline_share: float | None,
        strength: float,
        sustained: bool,
        final: bool,
    ) -> Detection:
        c = self.config
        ratio = (observed + c.pseudo_count) / (expected + c.pseudo_count)
        score = max(0.0, math.log(ratio) / math.log(c.severity_ratio_ref))
        what = "per bucket over the last hours" if sustained else "in this bucket"
        text = f"{observed:.3g} negative mentions {what} against {expected:.3g} expected ({ratio:.1f}x)"
        if share is not None and baseline_share is not None:
            text += f", negative share {share:.0%} vs {baseline_share:.0%} usual"
        elif share is not None:
            text += f", negative share {share:.0%}"
        if not final:
            text += " (bucket still open)"
        return Detection(
            ts=ts,
            observed=float(observed),
            expected=float(expected),
            score=float(score),
            p_value=float(p_value),
            negative_share=share,
            baseline_share=baseline_share,
            explanation=text + ".",
            strength=float(strength),
            sustained=sustained,
            final=final,
        )

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (config, bucket width, baseline) for restarts."""
        self.s.tail_one = self._h_one.state()
        self.s.tail_fast = self._h_fast.state()
        state = asdict(self.s)
        state["guard_one"] = self.s.guard_one.tolist()
        state["guard_fast"] = self.s.guard_fast.tolist()
        return {
            "version": STATE_VERSION,
            "bucket_s": self.bucket_s,
            "config": asdict(self.config),
            "state": state,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpikeDetector:
        """Rebuild a detector saved with :meth:`to_dict`."""
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported spike-detector state version {d.get('version')!r}")
        det = cls(SpikeConfig.from_dict(d["config"]), bucket_s=int(d["bucket_s"]))
        state = d["state"]
        det.s = _State(**{f.name: state[f.name] for f in fields(_State) if f.name in state})
        det.s.guard_one = array("H", det.s.guard_one)
        det.s.guard_fast = array("H", det.s.guard_fast)
        if len(det.s.season) != det._slots:
            raise ValueError("state does not match the configuration's daily slots")
        growth = det._hist_growth
        cfg = det.config
        det._h_one = _TailHistogram(
            cfg.bucket_tail_quantile, growth, _ANSCOMBE_STEP, det.s.tail_one
        )
        det._h_fast = _TailHistogram(cfg.tail_quantile, growth, _LOG_STEP, det.s.tail_fast)
        return det


class SpikeMonitor:
    """One :class:`SpikeDetector` per subject (brand, topic, brand x topic), created on first sight."""

    def __init__(self, config: SpikeConfig | None = None, bucket_s: int = 60) -> None:
        self.config = config or SpikeConfig()
        self.bucket_s = int(bucket_s)
        self.detectors: dict[str, SpikeDetector] = {}

    def detector(self, subject: str) -> SpikeDetector:
        """The detector of ``subject`` (created when missing)."""
        det = self.detectors.get(subject)
        if det is None:
            det = self.detectors[subject] = SpikeDetector(self.config, self.bucket_s)
        return det

    def update(
        self,
        subject: str,
        ts: datetime,
        negative: float,
        total: float | None = None,
        final: bool = True,
    ) -> Detection | None:
        """Feed one bucket of one subject (see :meth:`SpikeDetector.update`)."""
        return self.detector(subject).update(ts, negative, total, final)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state of every subject."""
        return {
            "bucket_s": self.bucket_s,
            "config": asdict(self.config),
            "subjects": {k: v.to_dict() for k, v in self.detectors.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpikeMonitor:
        """Rebuild a monitor saved with :meth:`to_dict`."""
        mon = cls(SpikeConfig.from_dict(d["config"]), bucket_s=int(d["bucket_s"]))
        mon.detectors = {k: SpikeDetector.from_dict(v) for k, v in d["subjects"].items()}
        return mon
