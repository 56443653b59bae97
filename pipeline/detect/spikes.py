"""Negative-buzz detector: is a subject's negative rate at crisis level, over windows ending now?

The product's definition of a crisis (``../shared/data/README.md``) is hourly: the negative
count n(h) of an hour exceeds ``max(ratio * m, m + excess_per_hour)`` where ``m`` is the median
of the previous 48 hourly counts. This module asks the same question *while it happens*:

* **Baseline** ``m``: the median of the subject's previous (up to) 48 complete UTC-hour counts,
  empty hours counting 0, at least 6 of them, exactly as the definition. Not seasonal: the
  definition compares an hour with the plain 48-h median, so a time-of-day profile would raise
  the bar in busy hours that the definition calls crises (and lower it at night). Only the
  windows shorter than the hour turn seasonal, after a week (below).
* **Evidence** over a few windows ending now (5 min, 15 min, 1 h: see :data:`WINDOWS_S`).
  A window of ``w`` hours holding ``c`` negatives alerts when both hold:

  - *effect size* (the user's words, :func:`crisis_count`): ``c > max(ratio * m * w,
    m * w + excess_per_hour)`` (strictly more, as the definition): the rate is ``ratio`` x usual over the window, and the window
    alone holds ``excess_per_hour`` more negatives than usual (so does the hour around it);
    over 1 h this is the definition itself, over 5 min a burst the minute it happens;
  - *enough evidence* (the false-alarm budget): the log-likelihood ratio of "the window is at
    that crisis count" against "the window is at the usual rate" (Poisson) is at least
    ``log(tests per subject-week / budget)``. Under the usual rate ``P(LR >= e^a) <= e^-a``
    (Markov's inequality on a likelihood ratio), so by the union bound over every window of
    every bucket the expected number of false alerts is at most ``budget`` (default 1) per
    subject-week, however the windows correlate. The usual rate under the null is
    :func:`usual_rate` (never zero). Windows shorter than the hour must also beat the
    stream's own burstiness: their log-likelihood ratio is divided by the quasi-Poisson
    dispersion of the subject's past counts over that window length (:func:`dispersion`, 48 h),
    so a brand whose talk comes in retweet cascades needs more to alert on 5 minutes. The hour
    window is the definition itself and is judged as such (its dispersion would mostly be the
    daily cycle, which the definition deliberately ignores). The bound holds for Poisson
    noise; real streams are over-dispersed, hence the next point.
* **Calibrated to the subject's own past** (:mod:`pipeline.detect.spike_null`): from a week
  of history on, a window must also exceed its crisis count by the *empirical bar*, the factor
  the subject's own daily peaks crossed on at most ``budget`` days a week (the stated rate,
  measured instead of assumed: real streams hold 3x-100x excursions on ordinary days), and
  the windows shorter than the hour take the usual count of this hour of the day.
* **Once per excursion**: after an alert the subject stays in its excursion until, on every
  window, the evidence favours the usual rate again (log-likelihood ratio <= 0).

Pure: no I/O, no Faust. ``SpikeMonitor.to_dict``/``from_dict`` persist the whole state as JSON.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scipy.special import pdtrc

from pipeline.core.brands import BrandConfig
from pipeline.core.schema import Severity
from pipeline.detect.spike_null import (
    PEAK_DAYS,
    SEASON_HOURS,
    dispersion,
    empirical_bar,
    seasonal_usual,
    usual_rate,
)

__all__ = [
    "WINDOWS_S", "Detection", "Sensitivity", "SpikeMonitor", "brand_overrides", "configured_monitors", "crisis_count",
    "dispersion", "empirical_bar", "seasonal_usual", "severity_of", "usual_rate",
]

HOUR_S = 3600
WEEK_S = 7 * 86_400
WINDOWS_S: tuple[int, ...] = (300, 900, 3600)
"""Evidence windows: the definition's own hour, and shorter ones spaced ~4x apart so that a
burst of any length between a minute and an hour is judged on a window within ~2x of its own
length (a scan over geometric window lengths)."""
HISTORY_HOURS = 48  # the definition: median of the previous 48 hourly counts
MIN_HISTORY_HOURS = 6  # the definition: at least 6 earlier hours, else the hour is not scored
STATE_VERSION = 4


@dataclass(frozen=True)
class Sensitivity:
    """What counts as a crisis, in the user's words."""

    ratio: float = 3.0
    """"at least 3x the usual rate"."""
    excess_per_hour: float = 10.0
    """"and at least 10 more an hour than usual"."""

    def __post_init__(self) -> None:
        if not self.ratio > 1.0:
            raise ValueError(f"sensitivity ratio must be > 1, got {self.ratio}")
        if not self.excess_per_hour > 0.0:
            raise ValueError(f"sensitivity excess_per_hour must be > 0, got {self.excess_per_hour}")

    def crisis_rate(self, usual_per_hour: float) -> float:
        """Negative mentions per hour from which an hour is a crisis."""
        return max(self.ratio * usual_per_hour, usual_per_hour + self.excess_per_hour)


@dataclass(frozen=True)
class Detection:
    """One negative-spike alert of one subject."""

    subject: str
    start: datetime
    """Start of the evidence window."""
    at: datetime
    """Event time the alert is raised at (end of the last bucket fed)."""
    window_s: int
    """Length of the evidence window."""
    observed: float
    """Negative mentions in the window."""
    expected: float
    """Usual negative mentions over the same window length."""
    severity: Severity
    """``info`` | ``warning`` | ``critical`` (see :func:`severity_of`)."""
    score: float
    """Observed / the count the window had to exceed (> 1)."""
    p_value: float
    """Poisson tail probability of ``observed`` at the usual rate (null hypothesis)."""
    negative_share: float | None
    baseline_share: float | None
    explanation: str
    """One plain sentence, e.g. "214 negative mentions in the last hour vs 21 usual (10x)"."""


def brand_overrides(brands: Iterable[BrandConfig], default: Sensitivity) -> dict[str, Sensitivity]:
    """Brand id -> sensitivity for brands-file entries that set ``sensitivity`` (fields they
    leave unset come from ``default``); pass the result as ``SpikeMonitor(overrides=...)``."""
    out: dict[str, Sensitivity] = {}
    for b in brands:
        own = b.sensitivity
        if own is not None:
            out[b.id] = Sensitivity(
                ratio=own.ratio if own.ratio is not None else default.ratio,
                excess_per_hour=(
                    own.excess_per_hour if own.excess_per_hour is not None else default.excess_per_hour
                ),
            )
    return out


def severity_of(score: float) -> Severity:
    """From ``score`` (observed / needed): ``critical`` from 3x what the window needed (a
    crisis well past the user's threshold), else ``warning``. Never ``info``: a negative spike
    is a crisis by the user's own sensitivity, so it must pass a ``min_severity: warning``
    route and list above rising-voice information."""
    return "critical" if score >= 3.0 else "warning"


@dataclass
class _Subject:
    """State of one subject: the last hour of buckets and the hourly history."""

    last_idx: int | None = None  # index of the last bucket fed (epoch // bucket_s)
    recent: list[float] = field(default_factory=list)  # negatives of the last hour, oldest first
    recent_total: list[float] = field(default_factory=list)
    hour_idx: int | None = None  # UTC hour being accumulated
    hour_neg: float = 0.0
    hour_total: float = 0.0
    hours: list[float] = field(default_factory=list)  # negatives of complete hours, oldest first
    hours_total: list[float] = field(default_factory=list)
    in_excursion: bool = False
    blocks: dict[str, list[float]] = field(default_factory=dict)
    """Per window length (buckets, as a string): counts of its past aligned, non-overlapping
    blocks over the last 48 h, the last one still accumulating (for the dispersion)."""
    block_idx: dict[str, int] = field(default_factory=dict)
    week_hours: list[float] = field(default_factory=list)  # last SEASON_HOURS complete hours
    day_idx: int | None = None  # UTC day whose peak score is accumulating
    day_peak: float = 0.0
    peaks: list[float] = field(default_factory=list)
    """Peak score (count / crisis count, worst window) of each past UTC day, oldest first."""


def _fmt_window(window_s: int) -> str:
    if window_s == HOUR_S:
        return "the last hour"
    if window_s % HOUR_S == 0:
        return f"the last {window_s // HOUR_S} hours"
    if window_s % 60 == 0:
        return f"the last {window_s // 60} minutes"
    return f"the last {window_s} seconds"


def _epoch(ts: datetime) -> float:
    return (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts).timestamp()


def crisis_count(sens: Sensitivity, usual_per_hour: float, window_h: float) -> float:
    """Negative mentions a window of ``window_h`` hours (at most 1) must exceed to alert.

    The ratio is a rate and holds at every time scale: ``ratio x`` the usual count of the
    window. The excess is an amount per hour: the window itself must hold ``excess_per_hour``
    more than usual (then so does the hour around it), so a short blip of a few posts on a
    quiet brand is never a crisis, while a burst of that size is one the minute it happens.
    """
    usual = usual_per_hour * window_h
    return max(sens.ratio * usual, usual + sens.excess_per_hour)


class SpikeMonitor:
    """Negative-spike detection for many subjects fed with per-bucket counts."""

    def __init__(
        self,
        bucket_s: int = 60,
        sensitivity: Sensitivity = Sensitivity(),
        overrides: Mapping[str, Sensitivity] | None = None,
        false_alerts_per_week: float = 1.0,
    ) -> None:
        if bucket_s <= 0 or HOUR_S % bucket_s != 0:
            raise ValueError(f"bucket_s must divide an hour (3600 s), got {bucket_s}")
        if not false_alerts_per_week > 0:
            raise ValueError("false_alerts_per_week must be > 0")
        self.bucket_s = int(bucket_s)
        self.sensitivity = sensitivity
        self.overrides: dict[str, Sensitivity] = dict(overrides or {})
        self.false_alerts_per_week = float(false_alerts_per_week)
        self.windows = sorted({max(1, round(w / self.bucket_s)) for w in WINDOWS_S})
        """Window lengths in buckets (a 1-h bucket gives a single 1-bucket window)."""
        tests_per_week = len(self.windows) * WEEK_S / self.bucket_s
        self.evidence = math.log(tests_per_week / self.false_alerts_per_week)
        """Log-likelihood ratio a window needs: ``log(tests per subject-week / budget)``."""
        self.subjects: dict[str, _Subject] = {}

    # ------------------------------------------------------------------ configuration
    def sensitivity_of(self, subject: str) -> Sensitivity:
        """Per-subject override (key ``subject``, or the brand id of ``brand:<id>`` and
        ``brand_topic:<id>|<topic>``), else the default."""
        if subject in self.overrides:
            return self.overrides[subject]
        kind, _, sid = subject.partition(":")
        brand = sid.split("|", 1)[0] if kind == "brand_topic" else sid if kind == "brand" else None
        return self.overrides.get(brand, self.sensitivity) if brand else self.sensitivity

    # ------------------------------------------------------------------ feeding
    def update(
        self, subject: str, bucket_start: datetime, negative: float, total: float
    ) -> Detection | None:
        """Feed one *final* bucket of one subject; buckets of a subject arrive in event-time order;
        buckets skipped between two calls count as zero. A bucket at or before the last one fed
        is ignored (returns None)."""
        s = self.subjects.setdefault(subject, _Subject())
        idx = math.floor(_epoch(bucket_start) / self.bucket_s)
        if s.last_idx is not None:
            if idx <= s.last_idx:
                return None
            gap = min(idx - s.last_idx - 1, (HISTORY_HOURS + 1) * HOUR_S // self.bucket_s)
            for j in range(idx - gap, idx):
                self._push(s, j, 0.0, 0.0)
            if gap >= self.windows[-1]:  # a silent hour: whatever excursion there was is over
                s.in_excursion = False
        self._push(s, idx, max(float(negative), 0.0), max(float(total), 0.0))
        return self._judge(subject, s, idx)

    def _push(self, s: _Subject, idx: int, negative: float, total: float) -> None:
        per_hour = HOUR_S // self.bucket_s
        hour = idx // per_hour
        if s.hour_idx is None:
            s.hour_idx = hour
        elif hour != s.hour_idx:
            s.hours.append(s.hour_neg)
            s.hours_total.append(s.hour_total)
            for _ in range(min(hour - s.hour_idx - 1, HISTORY_HOURS)):  # empty hours count 0
                s.hours.append(0.0)
                s.hours_total.append(0.0)
            del s.hours[:-HISTORY_HOURS], s.hours_total[:-HISTORY_HOURS]
            s.week_hours.append(s.hour_neg)
            s.week_hours.extend([0.0] * min(hour - s.hour_idx - 1, SEASON_HOURS))
            del s.week_hours[:-SEASON_HOURS]
            s.hour_idx, s.hour_neg, s.hour_total = hour, 0.0, 0.0
        s.hour_neg += negative
        s.hour_total += total
        for n in self.windows[:-1]:  # the hour's blocks are ``hours``
            key, block = str(n), idx // n
            hist = s.blocks.setdefault(key, [])
            last = s.block_idx.get(key)
            if last is None or block != last:
                gap = 0 if last is None else min(block - last - 1, HISTORY_HOURS * per_hour // n)
                hist.extend([0.0] * gap + [0.0])
                del hist[: -(HISTORY_HOURS * per_hour // n + 1)]
                s.block_idx[key] = block
            hist[-1] += negative
        s.recent.append(negative)
        s.recent_total.append(total)
        keep = self.windows[-1]
        del s.recent[:-keep], s.recent_total[:-keep]
        s.last_idx = idx

    # ------------------------------------------------------------------ deciding
    def _judge(self, subject: str, s: _Subject, idx: int) -> Detection | None:
        if len(s.hours) < MIN_HISTORY_HOURS:
            return None
        sens = self.sensitivity_of(subject)
        usual = statistics.median(s.hours)  # per hour, the definition's m
        null = usual_rate(s.hours, sens.crisis_rate(usual))
        bar = empirical_bar(s.peaks, self.false_alerts_per_week)
        slot = seasonal_usual(s.week_hours)
        best: tuple[float, int, float, float, float, float] | None = None
        # (llr, window, count, need, usual, null) of the strongest window that alerts
        quiet = True
        peak = 0.0
        for n in self.windows:
            if n > len(s.recent):
                continue
            w_h = n * self.bucket_s / HOUR_S
            c = sum(s.recent[-n:])
            u, nu = usual, null
            if slot is not None and n < self.windows[-1]:  # this hour of the day, not the 48 h
                u = statistics.median(slot)
                nu = usual_rate(slot, sens.crisis_rate(u))
            peak = max(peak, c / crisis_count(sens, u, w_h))
            need = bar * crisis_count(sens, u, w_h)
            llr = c * math.log(need / (nu * w_h)) - (need - nu * w_h)
            if llr > 0:
                quiet = False
            if n < self.windows[-1]:  # shorter than the hour: over the stream's own burstiness
                llr /= dispersion(s.blocks[str(n)][:-1])
            if c > need and llr >= self.evidence and (best is None or llr > best[0]):
                best = (llr, n, c, need, u, nu)
        self._record_peak(s, idx, peak)
        if s.in_excursion:
            if quiet:
                s.in_excursion = False
            return None
        if best is None:
            return None
        s.in_excursion = True
        _, n, c, need, u, nu = best
        return self._detection(subject, s, idx, n, c, u, need, nu)

    def _record_peak(self, s: _Subject, idx: int, peak: float) -> None:
        day = idx * self.bucket_s // 86_400
        if s.day_idx is not None and day != s.day_idx:
            s.peaks.append(s.day_peak)
            s.peaks.extend([0.0] * min(day - s.day_idx - 1, PEAK_DAYS))  # silent days: no peak
            del s.peaks[:-PEAK_DAYS]
            s.day_peak = 0.0
        s.day_idx = day
        s.day_peak = max(s.day_peak, peak)

    def _detection(
        self, subject: str, s: _Subject, idx: int, n: int, c: float, usual: float,
        need: float, null: float,
    ) -> Detection:
        window_s = n * self.bucket_s
        w_h = window_s / HOUR_S
        expected = usual * w_h
        at = datetime.fromtimestamp((idx + 1) * self.bucket_s, UTC)
        score = c / need
        total = sum(s.recent_total[-n:])
        share = c / total if total > 0 else None
        base_total = sum(s.hours_total)
        base_share = sum(s.hours) / base_total if base_total > 0 else None
        k = max(math.ceil(c) - 1, 0)
        p = float(pdtrc(k, max(null * w_h, 1e-12)))
        times = f"{c / expected:.0f}x" if expected > 0 else "none usual"
        text = (
            f"{c:.0f} negative mentions in {_fmt_window(window_s)} vs {expected:.3g} usual "
            f"({times})"
        )
        if share is not None and base_share is not None:
            text += f"; negative share {share:.0%} vs {base_share:.0%} usual"
        return Detection(
            subject=subject,
            start=at - timedelta(seconds=window_s),
            at=at,
            window_s=window_s,
            observed=float(c),
            expected=float(expected),
            severity=severity_of(score),
            score=float(score),
            p_value=p,
            negative_share=share,
            baseline_share=base_share,
            explanation=text,
        )

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (configuration and every subject), for persistence across restarts."""
        return {
            "version": STATE_VERSION,
            "bucket_s": self.bucket_s,
            "sensitivity": asdict(self.sensitivity),
            "overrides": {k: asdict(v) for k, v in self.overrides.items()},
            "false_alerts_per_week": self.false_alerts_per_week,
            "subjects": {k: asdict(v) for k, v in self.subjects.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpikeMonitor:
        """Rebuild a monitor saved with :meth:`to_dict`."""
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported spike-monitor state version {d.get('version')!r}")
        mon = cls(
            bucket_s=int(d["bucket_s"]),
            sensitivity=Sensitivity(**d["sensitivity"]),
            overrides={k: Sensitivity(**v) for k, v in d.get("overrides", {}).items()},
            false_alerts_per_week=float(d.get("false_alerts_per_week", 1.0)),
        )
        mon.subjects = {k: _Subject(**v) for k, v in d["subjects"].items()}
        return mon


def configured_monitors(ratio: float, excess_per_hour: float, brands: Iterable[BrandConfig]) -> Callable[[int], SpikeMonitor]:
    """Monitors by bucket length with the global sensitivity and each brand's own from the brands
    file: the one recipe the live worker and ``eval buzz`` share."""
    default = Sensitivity(ratio, excess_per_hour)
    overrides = brand_overrides(brands, default)
    return lambda bucket_s: SpikeMonitor(bucket_s, default, overrides)
