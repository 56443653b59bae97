"""The negative-spike detector on synthetic streams whose answer is known."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipeline.core.brands import parse_brands
from pipeline.detect.spikes import (
    Detection,
    Sensitivity,
    SpikeMonitor,
    brand_overrides,
    dispersion,
    severity_of,
)

T0 = datetime(2024, 3, 4, tzinfo=UTC)
MIN = timedelta(minutes=1)


def background(minutes: int, per_hour: float, seed: int) -> np.ndarray:
    """Poisson negatives per minute at ``per_hour``."""
    return np.random.default_rng(seed).poisson(per_hour / 60, minutes).astype(float)


def feed(mon: SpikeMonitor, counts: np.ndarray, subject: str = "brand:acme",
         start: datetime = T0, skip_zeros: bool = False) -> list[Detection]:
    out = []
    for i, c in enumerate(counts):
        if skip_zeros and c == 0:
            continue
        d = mon.update(subject, start + i * MIN, float(c), float(c) * 3)
        if d is not None:
            out.append(d)
    return out


def test_two_quiet_weeks_raise_no_alert() -> None:
    mon = SpikeMonitor()
    counts = background(14 * 1440, per_hour=6, seed=1)
    assert feed(mon, counts) == []


def test_one_minute_burst_alerts_in_that_minute_with_plain_wording() -> None:
    counts = background(2 * 1440, per_hour=6, seed=2)
    burst = 1440 + 600
    counts[burst] += 40
    alerts = feed(SpikeMonitor(), counts)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.at == T0 + (burst + 1) * MIN  # raised at the end of the burst's minute
    assert a.window_s == 300 and a.start == a.at - timedelta(seconds=300)
    assert a.observed >= 40 and 0 < a.expected <= 1.0
    assert a.severity in ("warning", "critical") and a.score >= 1
    assert a.p_value < 1e-6
    assert a.explanation.startswith(f"{a.observed:.0f} negative mentions in the last 5 minutes vs ")
    assert "usual" in a.explanation and "x)" in a.explanation


def test_one_hour_ramp_is_caught_before_its_hour_ends() -> None:
    counts = background(2 * 1440, per_hour=6, seed=3)
    start = 1440 + 300
    extra = np.random.default_rng(4).poisson(np.linspace(0, 1.2, 60))  # up to 72/h at the end
    counts[start : start + 60] += extra
    alerts = feed(SpikeMonitor(), counts)
    assert len(alerts) == 1
    assert T0 + start * MIN < alerts[0].at <= T0 + (start + 60) * MIN


def test_a_long_excursion_alerts_once_and_rearms_when_back_to_usual() -> None:
    counts = background(3 * 1440, per_hour=6, seed=5)
    first = 1440
    counts[first : first + 180] += np.random.default_rng(6).poisson(1.0, 180)  # 3 h at ~66/h
    second = 2 * 1440
    counts[second] += 50
    alerts = feed(SpikeMonitor(), counts)
    assert [a.at for a in alerts][0] <= T0 + (first + 30) * MIN
    assert len(alerts) == 2
    assert alerts[1].at == T0 + (second + 1) * MIN


def test_rise_below_the_users_ratio_is_not_a_crisis() -> None:
    counts = background(2 * 1440, per_hour=30, seed=7)
    counts[1440 : 1440 + 120] += np.random.default_rng(8).poisson(0.5, 120)  # 30/h -> 60/h: 2x
    assert feed(SpikeMonitor(), counts) == []
    assert len(feed(SpikeMonitor(sensitivity=Sensitivity(ratio=1.5)), counts)) == 1


def test_low_volume_brand_needs_the_excess_per_hour() -> None:
    counts = background(2 * 1440, per_hour=0.5, seed=9)
    counts[1440 + 100] += 4  # 0 -> 4 is not "10 more an hour than usual"
    assert feed(SpikeMonitor(), counts) == []
    counts[1440 + 700] += 14
    assert len(feed(SpikeMonitor(), counts)) == 1


def test_no_alert_before_six_hours_of_history() -> None:
    counts = np.zeros(8 * 60)
    counts[5 * 60] = 100
    assert feed(SpikeMonitor(), counts) == []
    counts[7 * 60] = 100
    assert len(feed(SpikeMonitor(), counts)) == 1


def test_skipped_buckets_count_as_zero() -> None:
    counts = background(2 * 1440, per_hour=6, seed=10)
    counts[1440 + 333] += 30
    dense = feed(SpikeMonitor(), counts)
    sparse = feed(SpikeMonitor(), counts, skip_zeros=True)
    assert [(a.at, a.observed) for a in dense] == [(a.at, a.observed) for a in sparse]
    assert len(dense) == 1


def test_old_or_repeated_bucket_is_ignored() -> None:
    mon = SpikeMonitor()
    assert mon.update("brand:acme", T0 + 5 * MIN, 1, 2) is None
    assert mon.update("brand:acme", T0 + 5 * MIN, 100, 200) is None
    assert mon.subjects["brand:acme"].recent == [1.0]


def test_state_survives_a_restart_through_json() -> None:
    counts = background(2 * 1440, per_hour=6, seed=11)
    burst = 1440 + 500
    counts[burst - 2 : burst + 3] += 12
    whole = feed(SpikeMonitor(), counts)
    mon = SpikeMonitor(overrides={"other": Sensitivity(4.0, 20.0)})
    split = burst - 1
    part = feed(mon, counts[:split])
    restored = SpikeMonitor.from_dict(json.loads(json.dumps(mon.to_dict())))
    assert restored.overrides == {"other": Sensitivity(4.0, 20.0)}
    part += feed(restored, counts[split:], start=T0 + split * MIN)
    assert part == whole and len(whole) == 1


def test_from_dict_rejects_unknown_state_version() -> None:
    with pytest.raises(ValueError, match="version"):
        SpikeMonitor.from_dict({"version": 2, "bucket_s": 60})


def test_coarser_buckets_see_the_same_crisis() -> None:
    counts = background(2 * 1440, per_hour=6, seed=12)
    counts[1440 + 400 : 1440 + 410] += 5
    fine = feed(SpikeMonitor(60), counts)
    five = counts.reshape(-1, 5).sum(axis=1)
    mon = SpikeMonitor(300)
    coarse = [d for i, c in enumerate(five) if (d := mon.update("brand:acme", T0 + i * 5 * MIN, c, c)) is not None]
    assert len(fine) == len(coarse) == 1
    assert abs((fine[0].at - coarse[0].at).total_seconds()) <= 600


def test_bucket_width_must_divide_an_hour() -> None:
    with pytest.raises(ValueError, match="divide an hour"):
        SpikeMonitor(bucket_s=7 * 60)


def test_sensitivity_validation_and_crisis_rate() -> None:
    assert Sensitivity().crisis_rate(2.0) == 12.0  # m + 10 binds
    assert Sensitivity().crisis_rate(20.0) == 60.0  # 3 m binds
    with pytest.raises(ValueError):
        Sensitivity(ratio=1.0)
    with pytest.raises(ValueError):
        Sensitivity(excess_per_hour=0)


def test_per_brand_sensitivity_from_the_brands_file() -> None:
    brands = parse_brands({"brands": [
        {"id": "acme", "name": "Acme", "sensitivity": {"ratio": 10}},
        {"id": "globex", "name": "Globex"},
    ]})
    default = Sensitivity(3.0, 8.0)
    overrides = brand_overrides(brands, default)
    assert overrides == {"acme": Sensitivity(10.0, 8.0)}
    mon = SpikeMonitor(sensitivity=default, overrides=overrides)
    assert mon.sensitivity_of("brand:acme") == Sensitivity(10.0, 8.0)
    assert mon.sensitivity_of("brand:globex") == default
    assert mon.sensitivity_of("brand_topic:acme|pricing") == Sensitivity(10.0, 8.0)
    assert mon.sensitivity_of("topic:acme") == default
    counts = background(2 * 1440, per_hour=6, seed=13)
    counts[1440 + 200 : 1440 + 260] += np.random.default_rng(14).poisson(0.3, 60)  # ~4x for an hour
    assert feed(mon, counts, subject="brand:acme") == []
    assert len(feed(mon, counts, subject="brand:globex")) == 1


def test_severity_levels() -> None:
    """A spike just at the user's threshold is still a crisis by their words: never mere information."""
    assert severity_of(1.0) == "warning"
    assert severity_of(2.9) == "warning"
    assert severity_of(3.0) == "critical"


def test_dispersion_is_one_for_poisson_and_larger_for_bursty_counts() -> None:
    rng = np.random.default_rng(15)
    assert dispersion(list(rng.poisson(40, 500).astype(float))) == pytest.approx(1.0, abs=0.3)
    bursty = rng.poisson(rng.gamma(2.0, 20.0, 500)).astype(float)  # same mean, clumped
    assert dispersion(list(bursty)) > 5
    assert dispersion([0.0] * 5 + [100.0]) == 1.0  # too short to estimate


def test_bursty_stream_needs_more_on_short_windows() -> None:
    """Big-volume talk whose 5-minute counts swing 3x by themselves: a single 5-minute swing
    is not a crisis; the hour window still judges by the definition."""
    rng = np.random.default_rng(16)
    five = rng.poisson(rng.gamma(1.5, 40 / 1.5, 3 * 288)).astype(float)  # mean 40 per 5 min
    mon = SpikeMonitor(300)
    alerts = [d for i, c in enumerate(five) if (d := mon.update("brand:big", T0 + i * 5 * MIN, c, c))]
    quiet = [d for d in alerts if d.window_s < 3600]
    assert quiet == []


def test_a_silent_hour_ends_an_excursion() -> None:
    mon = SpikeMonitor()
    counts = background(1440, per_hour=6, seed=17)
    feed(mon, counts)
    first = mon.update("brand:acme", T0 + 1440 * MIN, 40, 50)
    assert first is not None
    # the brand is silent for 2 hours (no bucket at all), then a new burst
    second = mon.update("brand:acme", T0 + (1440 + 121) * MIN, 40, 50)
    assert second is not None and second.at == T0 + (1440 + 122) * MIN
