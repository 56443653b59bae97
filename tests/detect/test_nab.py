"""NAB scorer: hand-computed cases and the README's published normalisation figures."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import pytest

from pipeline.evaluation import nab


def sig(x: float) -> float:
    """Reference scaled sigmoid written out from the README."""
    return -1.0 if x >= 3 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def test_scaled_sigmoid_landmarks() -> None:
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(3.0) == -1.0
    assert nab.scaled_sigmoid(10.0) == -1.0
    assert nab.scaled_sigmoid(2.9) > -1.0


@pytest.mark.parametrize(("n", "expected"), [(100, 15), (1000, 150), (5000, 750), (15902, 750)])
def test_probation_rows(n: int, expected: int) -> None:
    assert nab.probation_rows(n) == expected


def test_earliest_detection_in_window_scores_full_reward() -> None:
    alerts = [False] * 100
    alerts[40] = True  # first row of window [40, 49]
    alerts[45] = True  # later detections in the same window do not count
    s = nab.score_alerts(alerts, [(40, 49)], "standard")
    assert s.tp == 1 and s.fp == 0 and s.fn == 0
    assert s.raw == pytest.approx(1.0)


def test_late_detection_in_window_scores_less() -> None:
    alerts = [False] * 100
    alerts[49] = True  # last row: position -(49 - 49 + 1) / 10
    s = nab.score_alerts(alerts, [(40, 49)], "standard")
    assert s.raw == pytest.approx(sig(-0.1) / sig(-1.0))
    assert s.raw == pytest.approx(0.24822, abs=1e-4)


def test_false_positives_before_and_after_windows() -> None:
    alerts = [False] * 100
    alerts[20] = True  # before any window: full A_FP
    alerts[60] = True  # after window [40, 49]: d = 11 / 9
    alerts[50] = True  # right after the window: d = 1 / 9, cheap
    s = nab.score_alerts(alerts, [(40, 49)], "standard")
    expected = -1.0 + 0.11 * (-1.0) + 0.11 * sig(11 / 9) + 0.11 * sig(1 / 9)
    assert s.fp == 3 and s.fn == 1
    assert s.raw == pytest.approx(expected)
    assert 0.11 * sig(1 / 9) > -0.03  # a false alarm just after a window costs little


def test_probationary_detections_are_ignored() -> None:
    alerts = [False] * 100
    alerts[3] = True  # inside the first 15 rows
    s = nab.score_alerts(alerts, [(40, 49)], "standard")
    assert s.fp == 0 and s.detections == []
    assert s.raw == pytest.approx(-1.0)


def test_profiles_weights() -> None:
    alerts = [False] * 200
    alerts[30] = True  # FP before windows
    alerts[100] = True  # TP at the start of window [100, 119]
    windows = [(100, 119), (150, 159)]  # second window missed
    std = nab.score_alerts(alerts, windows, "standard").raw
    low_fp = nab.score_alerts(alerts, windows, "reward_low_FP_rate").raw
    low_fn = nab.score_alerts(alerts, windows, "reward_low_FN_rate").raw
    assert std == pytest.approx(1.0 - 0.11 - 1.0)
    assert low_fp == pytest.approx(1.0 - 0.22 - 1.0)
    assert low_fn == pytest.approx(1.0 - 0.11 - 2.0)


def test_fp_distance_uses_last_window_before_it() -> None:
    alerts = [False] * 300
    alerts[130] = True  # after window [100, 109] (W=10), before window [200, 209]
    s = nab.score_alerts(alerts, [(100, 109), (200, 209)], "standard")
    assert s.fp_score == pytest.approx(0.11 * sig(21 / 9))


@pytest.mark.parametrize(
    ("raw", "published"),
    [(10.81, 83.8), (8.32, 76.0), (5.16, 66.1), (5.13, 66.0), (4.73, 64.8)],
)
def test_normalisation_matches_published_figures(raw: float, published: float) -> None:
    # the 5 realTweets series hold 16 windows (4 + 4 + 3 + 3 + 2)
    assert round(nab.normalised_score(raw, 16, "standard"), 1) == pytest.approx(
        published, abs=0.051
    )


def test_normalisation_endpoints_all_profiles() -> None:
    for name, prof in nab.PROFILES.items():
        assert nab.normalised_score(prof.a_tp * 7, 7, name) == pytest.approx(100.0)
        assert nab.normalised_score(-prof.a_fn * 7, 7, name) == pytest.approx(0.0)
    # published HTM per-series raw scores add up to its 5.16
    htm = [1.2639, -0.7440, 0.7236, 2.3095, 1.6105]
    assert round(nab.normalised_score(sum(htm), 16), 1) == 66.1


def test_windows_file_and_row_mapping(tmp_path) -> None:
    start = datetime(2015, 3, 1, 0, 2, 53)
    ts = [start + timedelta(minutes=5 * i) for i in range(50)]
    path = tmp_path / "windows.json"
    path.write_text(
        json.dumps(
            {
                "realTweets/Twitter_volume_X.csv": [
                    ["2015-03-01 00:52:53.000000", "2015-03-01 01:32:53.000000"],
                    ["2015-03-01 02:00:00.000000", "2015-03-01 02:10:00.000000"],  # between rows
                ]
            }
        )
    )
    windows = nab.load_windows(path)
    assert list(windows) == ["Twitter_volume_X.csv"]
    rows = nab.window_rows(ts, windows["Twitter_volume_X.csv"])
    assert rows == [(10, 18), (24, 25)]
    assert nab.parse_timestamp("2015-03-01 00:52:53.123456") == datetime(2015, 3, 1, 0, 52, 53)
