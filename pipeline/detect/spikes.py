"""Streaming negative-buzz spike detector: one small state machine per subject.

The same :class:`SpikeDetector` runs in the live pipeline (60-s bucket counts per brand,
topic or brand x topic) and in the NAB evaluation (5-min counts).  It reads buckets in time
order, only uses the past, and keeps a few hundred numbers of state (``to_dict``/``from_dict``).

How it decides (details and tuning in ``docs/spikes.md``):

* **Baseline.** Expected count ``mu`` per bucket = ``exp(level + daily profile) - c`` on the
  scale ``log(count + c)``.  The level is an EWMA and the hour-of-day profile a per-slot EWMA,
  both fed *winsorised* residuals (clipped to ``+-winsor_z`` robust deviations), so one burst
  moves the baseline by a bounded amount.  The profile is blended in over
  ``season_min_days`` of history (short histories get a flat baseline).  Missing buckets are
  zeros.
* **Two statistics**, both log-ratios to the baseline: the bucket itself,
  ``log((x + c) / (mu + c))``, and a *sustained* one on EWMAs of the counts and of ``mu``
  (half-life ``burst_halflife_s``), which accumulates a persistent rise like a leaky CUSUM.
* **Thresholds calibrated on the subject's own history.** Each statistic is compared with a
  multiple of its own upper quantile (``tail_quantile``) over the recent past (a
  time-decayed histogram, with a prior for short histories and a floor).  Values entering
  the histogram are clipped at the current threshold, so past spikes do not raise it, while
  a pattern that recurs for more than ``1 - tail_quantile`` of the time (a daily peak) is
  absorbed within days.
* **Count-aware guards** (low volumes): an absolute floor ``min_count``, a minimum excess,
  a minimum ratio and a Poisson tail probability (``poisson_alpha``) of the count at the
  expected mean; 0 -> 2 is never a crisis.  With totals, the negative share must also rise
  significantly above its own baseline (binomial tail, ``share_alpha``).
* **Alert hygiene.** A statistic must fall back below ``rearm_level`` x its threshold
  (for ``rearm_s`` when it is the bucket statistic) before it can fire again, alerts are at
  least ``cooldown_s`` apart, and at most ``max_alerts_per_day`` per subject.

``final=False`` marks an open bucket whose count can only grow: it may fire early, never
updates the baseline, and a bucket (or incident) fires at most once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.special import bdtrc, pdtrc

__all__ = ["Detection", "SpikeConfig", "SpikeDetector", "SpikeMonitor"]

_DAY_S = 86_400
_ABS_DEV_TO_SD = math.sqrt(math.pi / 2)  # E|N(0, s)| = s * sqrt(2 / pi)
_HIST_MAX = 8.0  # log-ratio range of the tail histograms: [0, _HIST_MAX]
_HIST_BINS = 400
_HIST_STEP = _HIST_MAX / _HIST_BINS
STATE_VERSION = 2


@dataclass
class SpikeConfig:
    """All tunables of the spike detector; durations are seconds so they hold at any bucket width.

    The defaults are the single configuration tuned on NAB realTweets (5-min counts) and
    checked for the live 60-s per-brand buckets (see ``docs/spikes.md``).
    """

    # --- baseline
    pseudo_count: float = 1.0
    """``c`` in ``log(count + c)``: damps relative changes of tiny counts."""
    level_halflife_s: float = 2 * _DAY_S
    """Half-life of the de-seasonalised level EWMA."""
    seasonal: bool = True
    """Learn an hour-of-day profile (only where buckets are shorter than half a slot)."""
    season_slots: int = 24
    """Slots per day of the daily profile (24 = hourly)."""
    season_halflife_days: float = 7.0
    """Half-life, in days, of each daily-profile slot."""
    season_min_days: float = 3.0
    """The daily profile is blended in linearly over this many days of history."""
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
    tail_halflife_s: float = 14 * _DAY_S
    """Half-life of the history behind those quantiles."""
    tail_prior: float = 1.0
    """Quantile assumed before there is history (log-ratio; 1.0 = 2.7x)."""
    tail_prior_s: float = _DAY_S
    """Weight of that prior, as a duration of history."""
    tail_floor: float = 0.2
    """Lower bound of the quantile (log-ratio), so smooth series need a visible rise."""
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
    """A statistic re-arms once it falls below ``rearm_level x`` its threshold ..."""
    rearm_s: float = 600.0
    """... for this long (bucket statistic; the sustained one re-arms at once)."""
    max_alerts_per_day: int = 6
    """Per-subject cap on alerts in any rolling 24 h."""
    severity_ratio_ref: float = 16.0
    """observed / expected ratio that maps to severity 1.0 (log scale; 2x -> 0.25)."""

    def __post_init__(self) -> None:
        if self.pseudo_count <= 0:
            raise ValueError("pseudo_count must be > 0")
        if self.season_slots < 1:
            raise ValueError("season_slots must be >= 1")
        if not 0.5 < self.tail_quantile < 1:
            raise ValueError("tail_quantile must be in (0.5, 1)")
        if min(self.threshold, self.bucket_threshold, self.scale_floor, self.tail_floor) <= 0:
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
    fast_x: float = 0.0  # EWMA of counts
    fast_mu: float = 0.0  # EWMA of expected counts
    hist_one: list[float] = field(default_factory=list)  # decayed histogram, bucket statistic
    hist_fast: list[float] = field(default_factory=list)  # decayed histogram, sustained statistic
    hist_weight: float = 1.0  # weight of the next histogram entry (grows instead of decaying)
    share_neg: float = 0.0  # EWMA of negative counts of buckets with a total
    share_tot: float = 0.0  # EWMA of totals
    fast_neg: float = 0.0  # EWMA of negative counts of buckets with a total (sustained share)
    fast_tot: float = 0.0
    fired_idx: int | None = None  # bucket of the last alert
    one_armed: bool = True
    fast_armed: bool = True
    calm_since: int | None = None  # first final bucket of the current calm stretch
    alert_idx: list[int] = field(default_factory=list)  # recent alert buckets (frequency cap)


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
        self._a_level = _halflife_alpha(c.level_halflife_s / b)
        self._a_scale = _halflife_alpha(c.scale_halflife_s / b)
        self._a_share = _halflife_alpha(c.share_halflife_s / b)
        self._a_season = _halflife_alpha(c.season_halflife_days * per_day / self._slots)
        self._a_fast = _halflife_alpha(c.burst_halflife_s / b)
        self._n_eff = (2.0 - self._a_fast) / self._a_fast  # Poisson-equivalent window of the EWMA
        self._hist_growth = 0.5 ** (-b / c.tail_halflife_s)
        self._prior_mass = c.tail_prior_s / b
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
            hist_one=[0.0] * (_HIST_BINS + 1),
            hist_fast=[0.0] * (_HIST_BINS + 1),
        )
        self._h_one = np.zeros(_HIST_BINS + 1)
        self._h_fast = np.zeros(_HIST_BINS + 1)

    # ------------------------------------------------------------------ baseline
    def _slot(self, idx: int) -> int:
        return int(((idx * self.bucket_s) % _DAY_S) * self._slots // _DAY_S)

    def _log_expected(self, idx: int) -> float:
        s = self.s
        c = self.config.pseudo_count
        y_hat = s.level if s.level is not None else math.log(c)
        if self._daily:
            y_hat += s.season[self._slot(idx)] * min(1.0, s.n_final / self._season_ramp)
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
    def _quantile(self, hist: np.ndarray) -> float:
        """Prior-blended upper quantile of a decayed histogram (log-ratio units)."""
        c = self.config
        total = float(hist.sum())
        q_emp = 0.0
        if total > 0:
            above = np.cumsum(hist[::-1])  # mass at or above each bin, from the top
            k = int(np.searchsorted(above, (1.0 - c.tail_quantile) * total))
            q_emp = (_HIST_BINS - k) * _HIST_STEP  # bins above zero start at 1
        mass = total / self.s.hist_weight
        prior = self._prior_mass
        q = (mass * q_emp + prior * c.tail_prior) / (mass + prior) if mass + prior > 0 else c.tail_prior
        return max(q, c.tail_floor)

    def _thresholds(self) -> tuple[float, float]:
        if self._thr_cache is None:
            c = self.config
            self._thr_cache = (
                c.bucket_threshold * self._quantile(self._h_one),
                c.threshold * self._quantile(self._h_fast),
            )
        return self._thr_cache

    def _hist_add(self, hist: np.ndarray, value: float) -> None:
        k = 0 if value <= 0 else min(_HIST_BINS, 1 + int(value / _HIST_STEP))
        hist[k] += self.s.hist_weight

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
            r_one=math.log((x + c) / (mu + c)),
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
        if s.n_final < self._warmup or s.fired_idx == idx:
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

        ``ts`` is any time inside the bucket; data for buckets older than the last final one
        is ignored; missing buckets count as zeros.  ``final=False``: the bucket is still open.
        """
        s = self.s
        idx = math.floor(_epoch_s(ts) / self.bucket_s)
        if s.last_idx is not None and idx <= s.last_idx:
            return None  # late or repeated data of a closed bucket
        self._fill_gap(idx)
        if s.level is None:  # very first bucket: nothing to compare with yet
            if final:
                self._learn(idx, negative, total, None)
            return None
        ev = self._evaluate(idx, negative, total)
        detection = None if self._blocked(idx) else self._decide(ts, negative, total, ev, final)
        if detection is not None:
            s.fired_idx = idx
            s.one_armed = s.fast_armed = False
            s.calm_since = None
            s.alert_idx = [j for j in s.alert_idx if idx - j < self._day_buckets] + [idx]
        if final:
            self._learn(idx, negative, total, ev)
        return detection

    def _decide(
        self, ts: datetime, negative: float, total: float | None, ev: _Eval, final: bool
    ) -> Detection | None:
        s = self.s
        n = self._n_eff
        base_share = self.baseline_share
        candidates: list[tuple[bool, float, float, float, float, float, float]] = []
        if s.one_armed and ev.r_one >= ev.thr_one:
            ok, p = self._counts_ok(negative, ev.mu)
            if ok and total is not None:
                ok, p2 = self._share_ok(negative, total, base_share)
                p = max(p, p2)
            if ok:
                candidates.append((False, ev.r_one / ev.thr_one, negative, ev.mu, p, ev.r_one, 1.0))
        if s.fast_armed and ev.r_fast >= ev.thr_fast:
            ok, p = self._counts_ok(ev.fast_x * n, ev.fast_mu * n)
            if ok and total is not None and ev.fast_tot > 0:
                ok, p2 = self._share_ok(ev.fast_neg * n, ev.fast_tot * n, base_share)
                p = max(p, p2)
            if ok:
                candidates.append((True, ev.r_fast / ev.thr_fast, ev.fast_x, ev.fast_mu, p, ev.r_fast, n))
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
        # tail histograms: values clipped at the current thresholds (past spikes do not count)
        self._hist_add(self._h_one, min(ev.r_one, ev.thr_one))
        self._hist_add(self._h_fast, min(ev.r_fast, ev.thr_fast))
        s.hist_weight *= self._hist_growth
        if s.hist_weight > 1e100:
            self._h_one /= s.hist_weight
            self._h_fast /= s.hist_weight
            s.hist_weight = 1.0
        self._thr_cache = None
        # re-arming
        if ev.r_fast < c.rearm_level * ev.thr_fast:
            s.fast_armed = True
        if ev.r_one < c.rearm_level * ev.thr_one:
            if s.calm_since is None:
                s.calm_since = idx
            if idx - s.calm_since + 1 >= self._rearm:
                s.one_armed = True
        else:
            s.calm_since = None
        # EWMAs of the sustained statistic
        s.fast_x, s.fast_mu = ev.fast_x, ev.fast_mu
        s.fast_neg, s.fast_tot = ev.fast_neg, ev.fast_tot
        # winsorised baseline update (Holt-Winters style, log scale)
        r = y - self._log_expected(idx)
        lim = c.winsor_z * self._sd()
        rw = min(max(r, -lim), lim)
        s.level += self._a_level * rw
        if self._daily:
            k = self._slot(idx)
            s.season_n[k] += 1
            a = max(self._a_season, 1.0 / s.season_n[k])
            s.season[k] += a * rw * (1.0 - self._a_level)
        s.scale_n += 1
        a = max(self._a_scale, 1.0 / s.scale_n)
        s.scale_abs += a * (abs(rw) - s.scale_abs)
        if total is not None and total > 0:
            base = self.baseline_share
            neg = x
            if base is not None:  # winsorised: a burst of negativity moves it a bounded amount
                neg = min(neg, total * base + c.winsor_z * math.sqrt(total * base * (1 - base)) + 1.0)
            s.share_neg += self._a_share * (neg - s.share_neg)
            s.share_tot += self._a_share * (total - s.share_tot)
        s.n_final += 1
        s.last_idx = idx

    def _fill_gap(self, idx: int) -> None:
        last = self.s.last_idx
        if last is None or idx <= last + 1:
            return
        for j in range(max(last + 1, idx - self._max_fill), idx):
            self._learn(j, 0.0, None, None)
        self.s.last_idx = idx - 1

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
        self.s.hist_one = self._h_one.tolist()
        self.s.hist_fast = self._h_fast.tolist()
        return {
            "version": STATE_VERSION,
            "bucket_s": self.bucket_s,
            "config": asdict(self.config),
            "state": asdict(self.s),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpikeDetector:
        """Rebuild a detector saved with :meth:`to_dict`."""
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported spike-detector state version {d.get('version')!r}")
        det = cls(SpikeConfig.from_dict(d["config"]), bucket_s=int(d["bucket_s"]))
        state = d["state"]
        det.s = _State(**{f.name: state[f.name] for f in fields(_State) if f.name in state})
        if len(det.s.season) != det._slots or len(det.s.hist_one) != _HIST_BINS + 1:
            raise ValueError("state does not match the configuration")
        det._h_one = np.asarray(det.s.hist_one, dtype=float)
        det._h_fast = np.asarray(det.s.hist_fast, dtype=float)
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
