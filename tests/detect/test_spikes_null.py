"""Empirical null: after a week, a subject's own ordinary excursions stop alerting, a real one
still does; before a week the parametric bar stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.detect.spike_null import MIN_PEAK_DAYS, empirical_bar, seasonal_usual
from pipeline.detect.spikes import SpikeMonitor

T0 = datetime(2015, 3, 2, tzinfo=UTC)  # a Monday, midnight UTC
STEP = timedelta(minutes=5)
PER_DAY = 288


def test_empirical_bar_is_the_quantile_crossed_at_most_budget_days_a_week() -> None:
    peaks = [float(p) for p in range(1, 29)]  # four weeks of daily peaks 1..28
    assert empirical_bar(peaks, 1.0) == 24.0  # 4 days a 4 weeks exceed it: 25, 26, 27, 28
    assert empirical_bar(peaks, 2.0) == 20.0  # 8 days exceed it
    assert empirical_bar(peaks[: MIN_PEAK_DAYS - 1], 1.0) == 1.0  # under a week: parametric
    assert empirical_bar([0.5] * 28, 1.0) == 1.0  # never below the user's own sensitivity
    assert empirical_bar(peaks, 7.0) == 1.0  # a budget of every day asks nothing more


def test_seasonal_usual_is_this_hour_of_the_day_on_the_last_seven_days() -> None:
    week = [float(h % 24) for h in range(7 * 24)]  # hour of the day as the count
    assert seasonal_usual(week) == [0.0] * 7  # the next hour is 00:00 again
    assert seasonal_usual(week[:-1]) is None  # less than a week


def spam_stream(days: int, seed: int) -> np.ndarray:
    """5-minute mentions of a ticker: ~60 an hour, and every day at 12:00 a spam burst of 60
    extra in 5 minutes (4x the crisis count of 5 minutes, the subject's ordinary behaviour)."""
    counts = np.random.default_rng(seed).poisson(5.0, days * PER_DAY).astype(float)
    counts[np.arange(days) * PER_DAY + 144] += 60
    return counts


def alert_rows(counts: np.ndarray) -> list[int]:
    mon = SpikeMonitor(bucket_s=300)
    rows = []
    for i, c in enumerate(counts):
        if mon.update("series", T0 + i * STEP, float(c), float(c)) is not None:
            rows.append(i)
    return rows


def test_daily_spam_stops_alerting_after_a_week_but_a_real_spike_alerts() -> None:
    days = 21
    counts = spam_stream(days, seed=7)
    real = 17 * PER_DAY + 216  # day 17, 18:00: 600 extra in 5 minutes
    counts[real] += 600
    rows = alert_rows(counts)
    spam = [r for r in rows if r % PER_DAY == 144]
    first_week = [r for r in spam if r < MIN_PEAK_DAYS * PER_DAY]
    later = [r for r in spam if r >= (MIN_PEAK_DAYS + 1) * PER_DAY]
    assert len(first_week) == MIN_PEAK_DAYS  # no calibration yet: every burst is a crisis
    assert len(later) <= 2  # the subject's own daily burst: at most ~1 a week (budget 1)
    assert real in rows  # 40x the crisis count: far above its own past, caught that minute
    assert set(rows) <= set(spam) | {real}  # nothing else
