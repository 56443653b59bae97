"""Behaviour of the streaming spike detector at the live defaults (60-s buckets)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipeline.detect.spikes import Detection, SpikeConfig, SpikeDetector, SpikeMonitor

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday, midnight UTC
DAY = 1440  # minutes


def minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def feed(
    det: SpikeDetector,
    counts: Sequence[float],
    start: int = 0,
    totals: Sequence[float] | None = None,
) -> list[tuple[int, Detection]]:
    """Feed final 60-s buckets ``start, start+1, ...``; returns (minute, detection) pairs."""
    out = []
    for i, x in enumerate(counts):
        total = None if totals is None else float(totals[i])
        d = det.update(minute(start + i), float(x), total)
        if d is not None:
            out.append((start + i, d))
    return out


def poisson(rate: float, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).poisson(rate, n).astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steady_noise_never_fires(seed: int) -> None:
    det = SpikeDetector()
    assert feed(det, poisson(5.0, 3 * DAY, seed)) == []


def test_zero_to_two_is_not_a_crisis() -> None:
    det = SpikeDetector()
    history = poisson(0.1, 2 * DAY, seed=3)
    assert feed(det, history) == []
    assert det.update(minute(2 * DAY), 2.0) is None
    assert det.update(minute(2 * DAY + 1), 2.0, final=False) is None
    # also from a completely silent history
    quiet = SpikeDetector()
    assert feed(quiet, np.zeros(DAY)) == []
    assert quiet.update(minute(DAY), 2.0) is None


def test_sudden_burst_fires_within_the_open_bucket_once() -> None:
    det = SpikeDetector()
    assert feed(det, poisson(5.0, 2 * DAY, seed=4)) == []
    now = minute(2 * DAY)
    d = det.update(now + timedelta(seconds=20), 40.0, final=False)  # bucket still open
    assert d is not None
    assert d.final is False and not d.sustained
    assert d.observed == 40.0 and 3.0 < d.expected < 8.0
    assert d.p_value < 1e-6 and 0.5 < d.score < 1.5
    assert "40 negative mentions" in d.explanation and d.explanation.endswith(".")
    # the same bucket grows and closes: no second alert
    assert det.update(now + timedelta(seconds=40), 44.0, final=False) is None
    assert det.update(now, 47.0, final=True) is None
    # the burst goes on for a few minutes: still the same incident
    assert feed(det, [45, 38, 30, 12], start=2 * DAY + 1) == []


def test_single_moderate_bucket_needs_persistence() -> None:
    det = SpikeDetector()
    assert feed(det, poisson(5.0, 2 * DAY, seed=5)) == []
    assert det.update(minute(2 * DAY), 15.0) is None  # one busy minute is noise
    rise = feed(det, poisson(15.0, 60, seed=6), start=2 * DAY + 1)  # a sustained 3x rise
    assert len(rise) == 1
    when, d = rise[0]
    assert d.sustained and when - 2 * DAY <= 45
    assert d.observed > 1.5 * d.expected


def spike() -> list[float]:
    return [40.0, 45.0, 50.0, 42.0, 38.0]


def test_cooldown_then_an_identical_spike_an_hour_later_fires_again() -> None:
    base = poisson(5.0, 2 * DAY + 200, seed=7)
    det = SpikeDetector()
    assert feed(det, base[: 2 * DAY]) == []
    first = feed(det, spike(), start=2 * DAY)
    assert len(first) == 1
    # 10 minutes later: within the cooldown, same incident
    assert feed(det, base[2 * DAY + 5 : 2 * DAY + 10], start=2 * DAY + 5) == []
    assert feed(det, spike(), start=2 * DAY + 10) == []
    # an hour later, after calm: fires again, against an expectation the spikes did not inflate
    calm = feed(det, base[2 * DAY + 15 : 2 * DAY + 75], start=2 * DAY + 15)
    assert calm == []
    second = feed(det, spike(), start=2 * DAY + 75)
    assert len(second) == 1
    assert second[0][1].expected == pytest.approx(first[0][1].expected, rel=0.25)


def test_frequency_cap_per_subject() -> None:
    cfg = SpikeConfig(cooldown_s=0, rearm_s=60, max_alerts_per_day=2)
    det = SpikeDetector(cfg)
    feed(det, poisson(5.0, 2 * DAY, seed=8))
    alerts = []
    t = 2 * DAY
    for _ in range(6):  # a spike every 20 minutes
        alerts += feed(det, [60.0], start=t)
        alerts += feed(det, poisson(5.0, 19, seed=t), start=t + 1)
        t += 20
    assert len(alerts) == 2


def test_daily_peak_stops_firing_after_a_few_days() -> None:
    days = 10
    counts = poisson(5.0, (days + 1) * DAY, seed=9)
    for d in range(days + 1):  # every day 12:00-12:30 UTC: a scheduled post draws replies
        lo = d * DAY + 12 * 60
        counts[lo : lo + 30] = poisson(40.0, 30, seed=100 + d)
    # on the last day, an unrelated surge at 18:00
    surge = days * DAY + 18 * 60
    counts[surge : surge + 15] = poisson(60.0, 15, seed=99)
    alerts = feed(SpikeDetector(), counts)
    by_day = [sum(1 for m, _ in alerts if m // DAY == d) for d in range(days + 1)]
    assert by_day[0] >= 1  # new behaviour: alert
    assert sum(by_day[4:days]) == 0, by_day  # learnt as the daily rhythm
    # ... while the surge at another hour is still caught, and the peak still is not
    last_day = [m - surge for m, _ in alerts if m // DAY == days]
    assert len(last_day) == 1 and 0 <= last_day[0] < 15


def test_restart_from_state_gives_identical_decisions() -> None:
    counts = poisson(5.0, 3 * DAY, seed=10)
    for lo in (DAY + 100, 2 * DAY + 700, 2 * DAY + 900):
        counts[lo : lo + 4] = 60.0
    ref = SpikeDetector()
    expected = feed(ref, counts)
    assert len(expected) == 3
    cut = 2 * DAY + 800
    first = SpikeDetector()
    got = feed(first, counts[:cut])
    state = json.loads(json.dumps(first.to_dict()))
    resumed = SpikeDetector.from_dict(state)
    got += feed(resumed, counts[cut:], start=cut)
    assert [(m, d.observed, d.expected, d.score) for m, d in got] == [
        (m, d.observed, d.expected, d.score) for m, d in expected
    ]


def test_missing_buckets_count_as_zeros() -> None:
    counts = poisson(0.3, 2 * DAY, seed=11)
    counts[DAY + 500 : DAY + 504] = [20.0, 25.0, 30.0, 18.0]
    dense = SpikeDetector()
    ref = feed(dense, counts)
    sparse = SpikeDetector()
    got = []
    for i, x in enumerate(counts):
        if x > 0 or i == 0:  # the live query only returns buckets with mentions
            d = sparse.update(minute(i), float(x))
            if d is not None:
                got.append((i, d))
    assert [(m, d.expected) for m, d in got] == [(m, d.expected) for m, d in ref]
    assert len(ref) == 1


def test_negative_share_must_shift_when_totals_are_given() -> None:
    rng = np.random.default_rng(12)
    totals = rng.poisson(50.0, 2 * DAY).astype(float)
    negatives = rng.binomial(totals.astype(int), 0.1).astype(float)
    det = SpikeDetector()
    assert feed(det, negatives, totals=totals) == []
    # volume surge with the usual share: not a negative-buzz alert
    assert det.update(minute(2 * DAY), 40.0, total=400.0) is None
    feed(det, negatives[:60], start=2 * DAY + 1, totals=totals[:60])
    # negative surge at the usual volume: alert, with the share in the explanation
    d = det.update(minute(2 * DAY + 61), 40.0, total=60.0)
    assert d is not None
    assert d.negative_share == pytest.approx(40 / 60)
    assert d.baseline_share == pytest.approx(0.1, abs=0.02)
    assert "share 67%" in d.explanation


def test_other_bucket_widths() -> None:
    # 5-minute buckets: 288 per day, hourly profile
    det = SpikeDetector(bucket_s=300)
    counts = poisson(20.0, 4 * 288, seed=13)
    for i, x in enumerate(counts):
        assert det.update(T0 + timedelta(minutes=5 * i), float(x)) is None
    assert det.update(T0 + timedelta(minutes=5 * len(counts)), 150.0) is not None
    # daily buckets: no daily profile, still detects a surge
    daily = SpikeDetector(bucket_s=86_400)
    for i, x in enumerate(poisson(100.0, 30, seed=14)):
        assert daily.update(T0 + timedelta(days=i), float(x)) is None
    assert daily.update(T0 + timedelta(days=30), 600.0) is not None


def test_late_and_repeated_buckets_are_ignored() -> None:
    det = SpikeDetector()
    feed(det, poisson(5.0, DAY, seed=15))
    before = det.to_dict()
    assert det.update(minute(10), 500.0) is None  # long closed
    assert det.update(minute(DAY - 1), 500.0) is None  # already final
    assert det.to_dict() == before


def test_monitor_keeps_subjects_apart_and_restarts() -> None:
    mon = SpikeMonitor()
    a = poisson(5.0, DAY, seed=16)
    b = poisson(30.0, DAY, seed=17)
    for i in range(DAY):
        assert mon.update("brand:acme", minute(i), a[i]) is None
        assert mon.update("brand:globex", minute(i), b[i]) is None
    restored = SpikeMonitor.from_dict(json.loads(json.dumps(mon.to_dict())))
    assert restored.update("brand:globex", minute(DAY), 31.0) is None
    d = restored.update("brand:acme", minute(DAY), 45.0)
    assert d is not None and d.observed == 45.0
    assert set(restored.detectors) == {"brand:acme", "brand:globex"}


def test_config_validation_and_roundtrip() -> None:
    with pytest.raises(ValueError):
        SpikeConfig(tail_quantile=1.5)
    with pytest.raises(ValueError):
        SpikeConfig(threshold=0)
    cfg = SpikeConfig(cooldown_s=120.0)
    assert SpikeConfig.from_dict({**cfg.__dict__, "unknown": 1}) == cfg


def test_open_bucket_without_final_update_keeps_its_count() -> None:
    history = poisson(5.0, DAY, seed=18)
    closed = SpikeDetector()
    feed(closed, history)
    closed.update(minute(DAY), 30.0)
    open_only = SpikeDetector()
    feed(open_only, history)
    open_only.update(minute(DAY), 30.0, final=False)  # the final update never arrives
    for det in (closed, open_only):
        det.update(minute(DAY + 1), 5.0)
    assert open_only.s.level == closed.s.level
    assert open_only.s.n_final == closed.s.n_final == DAY + 2


def test_open_newest_bucket_does_not_close_earlier_ones() -> None:
    # the live loop sends the newest minute as open while the two before it may still grow
    history = poisson(5.0, DAY, seed=19)
    in_order = SpikeDetector()
    feed(in_order, history)
    feed(in_order, [6.0, 7.0, 5.0], start=DAY)
    late = SpikeDetector()
    feed(late, history)
    assert late.update(minute(DAY + 2), 3.0, final=False) is None  # newest, still open
    feed(late, [6.0, 7.0], start=DAY)  # the earlier minutes become final afterwards
    assert late.update(minute(DAY + 2), 5.0) is None
    assert late.s.level == in_order.s.level and late.s.n_final == in_order.s.n_final
    # an alert raised on the open newest minute is not repeated when earlier minutes close
    assert late.update(minute(DAY + 5), 45.0, final=False) is not None
    assert feed(late, [5.0, 4.0], start=DAY + 3) == []
    assert late.update(minute(DAY + 5), 48.0) is None
