"""Numenta Anomaly Benchmark (NAB) scoring, as described in the shared data README.

A detector marks single rows of a series as alerts.  Each labelled window ``[l, r]`` earns
the scaled-sigmoid reward of its earliest alert (or ``-A_FN`` when it has none); each alert
outside every window costs ``A_FP`` scaled by its distance from the end of the previous
window.  Alerts in the probationary prefix are ignored.  Raw scores add up over series and
are normalised as ``100 * (raw - null) / (perfect - null)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

__all__ = [
    "PROFILES",
    "Profile",
    "SeriesScore",
    "load_windows",
    "normalised_score",
    "parse_timestamp",
    "probation_rows",
    "scaled_sigmoid",
    "score_alerts",
    "window_rows",
]


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    a_tp: float
    a_fp: float
    a_fn: float


PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}


@dataclass
class SeriesScore:
    """Raw NAB score of one series under one profile, with its parts."""

    raw: float
    n_windows: int
    tp: int = 0
    fn: int = 0
    fp: int = 0
    tp_score: float = 0.0
    fp_score: float = 0.0
    fn_score: float = 0.0
    detections: list[int] = field(default_factory=list)  # scored alert rows (after probation)


def scaled_sigmoid(x: float) -> float:
    """``2 / (1 + e^{5x}) - 1``, and exactly ``-1`` for ``x >= 3``."""
    if x >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def probation_rows(n_rows: int) -> int:
    """Number of leading rows whose alerts are ignored: ``min(floor(0.15 N), 750)``."""
    return min(math.floor(0.15 * n_rows), 750)


def parse_timestamp(text: str) -> datetime:
    """Parse ``YYYY-MM-DD HH:MM:SS[.ffffff]``, dropping fractional seconds."""
    return datetime.strptime(text.strip().split(".", 1)[0], "%Y-%m-%d %H:%M:%S")


def load_windows(path: Path | str) -> dict[str, list[tuple[datetime, datetime]]]:
    """Read NAB ``windows.json`` keyed by the series' file name (``Twitter_volume_X.csv``)."""
    raw = json.loads(Path(path).read_text())
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for key, wins in raw.items():
        out[Path(key).name] = [(parse_timestamp(a), parse_timestamp(b)) for a, b in wins]
    return out


def window_rows(
    timestamps: Sequence[datetime], windows: Iterable[tuple[datetime, datetime]]
) -> list[tuple[int, int]]:
    """Map ``[start, end]`` timestamp windows to inclusive row ranges ``[l, r]`` of a sorted series.

    Row ``l`` is the first row at or after ``start`` and ``r`` the last at or before ``end``;
    windows holding no row are dropped.
    """
    ts = np.array([np.datetime64(t) for t in timestamps])
    rows: list[tuple[int, int]] = []
    for start, end in windows:
        lo = int(np.searchsorted(ts, np.datetime64(start), side="left"))
        hi = int(np.searchsorted(ts, np.datetime64(end), side="right")) - 1
        if lo <= hi:
            rows.append((lo, hi))
    return sorted(rows)


def score_alerts(
    alerts: Sequence[bool] | np.ndarray,
    windows: Sequence[tuple[int, int]],
    profile: Profile | str = "standard",
) -> SeriesScore:
    """NAB raw score of one series.

    ``alerts[i]`` is true where the detector fired on row ``i``; ``windows`` are inclusive,
    non-overlapping row ranges (see :func:`window_rows`).
    """
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    flags = np.asarray(alerts, dtype=bool)
    n = len(flags)
    probation = probation_rows(n)
    wins = sorted(windows)
    max_tp = scaled_sigmoid(-1.0)
    result = SeriesScore(raw=0.0, n_windows=len(wins))
    best: list[float | None] = [None] * len(wins)  # earliest detection reward per window
    starts = np.array([w[0] for w in wins], dtype=int)
    for row in np.flatnonzero(flags):
        i = int(row)
        if i < probation:
            continue
        result.detections.append(i)
        k = int(np.searchsorted(starts, i, side="right")) - 1  # last window starting at or before i
        if k >= 0 and i <= wins[k][1]:
            if best[k] is None:
                left, right = wins[k]
                width = right - left + 1
                best[k] = scaled_sigmoid(-(right - i + 1) / width) * prof.a_tp / max_tp
            continue
        if k >= 0:
            prev_left, prev_right = wins[k]
            prev_width = prev_right - prev_left + 1
            d = abs(i - prev_right) / (prev_width - 1) if prev_width > 1 else 3.0
        else:
            d = 3.0
        result.fp += 1
        result.fp_score += prof.a_fp * scaled_sigmoid(d)
    for reward in best:
        if reward is None:
            result.fn += 1
            result.fn_score -= prof.a_fn
        else:
            result.tp += 1
            result.tp_score += reward
    result.raw = result.tp_score + result.fp_score + result.fn_score
    return result


def normalised_score(raw: float, n_windows: int, profile: Profile | str = "standard") -> float:
    """``100 * (raw - null) / (perfect - null)`` with ``perfect = A_TP * #windows``, ``null = -A_FN * #windows``."""
    prof = PROFILES[profile] if isinstance(profile, str) else profile
    perfect = prof.a_tp * n_windows
    null = -prof.a_fn * n_windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def total_normalised(
    scores: Mapping[str, SeriesScore], profile: Profile | str = "standard"
) -> float:
    """Normalised score of a set of series (raw scores and window counts add up)."""
    raw = sum(s.raw for s in scores.values())
    n_windows = sum(s.n_windows for s in scores.values())
    return normalised_score(raw, n_windows, profile)
