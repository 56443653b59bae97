"""Evaluate the spike detector on NAB-style series (e.g. NAB realTweets) with the NAB scorer.

Each CSV (``timestamp,value``) is fed row by row to the same :class:`SpikeDetector` the live
pipeline uses (``value`` = negative count, no totals); rows where it fires are alerts.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from pipeline.detect import nab
from pipeline.detect.spikes import SpikeConfig, SpikeDetector

__all__ = [
    "NAB_CONFIG",
    "NAB_GRID",
    "command",
    "detect_series",
    "infer_bucket_s",
    "leave_one_out",
    "read_series",
    "score_series_dir",
]

NAB_CONFIG = replace(
    SpikeConfig(),
    threshold=1.05,
    tail_quantile=0.98,
    burst_halflife_s=7200.0,
    tail_prior=1.5,
)
"""The single configuration scored on every NAB series: the live defaults with a 2-hour
sustained EWMA, its threshold at 1.05 x the 98th percentile and a more cautious prior.
How it was chosen, with leave-one-series-out checks, is in ``docs/spikes.md``."""


def read_series(path: Path) -> tuple[list[datetime], list[float]]:
    """Read a ``timestamp,value`` CSV (fractional seconds dropped)."""
    ts: list[datetime] = []
    values: list[float] = []
    with Path(path).open(newline="") as fh:
        for row in csv.DictReader(fh):
            ts.append(nab.parse_timestamp(row["timestamp"]))
            values.append(float(row["value"]))
    return ts, values


def infer_bucket_s(timestamps: Sequence[datetime]) -> int:
    """Bucket width of a series: the most common positive step between rows (60 s when unknown)."""
    steps: dict[int, int] = {}
    for a, b in zip(timestamps, timestamps[1:], strict=False):
        d = round((b - a).total_seconds())
        if d > 0:
            steps[d] = steps.get(d, 0) + 1
    return max(steps, key=lambda k: steps[k]) if steps else 60


def detect_series(
    timestamps: Sequence[datetime], values: Sequence[float], config: SpikeConfig | None = None
) -> list[bool]:
    """Run one fresh detector over a series; ``True`` on the rows where it alerted."""
    det = SpikeDetector(config, bucket_s=infer_bucket_s(timestamps))
    return [det.update(t, v) is not None for t, v in zip(timestamps, values, strict=True)]


def score_series_dir(
    series_dir: Path | str,
    windows_file: Path | str,
    config: SpikeConfig | None = None,
    names: Sequence[str] | None = None,
    alerts_out: dict[str, list[bool]] | None = None,
) -> dict[str, Any]:
    """Score every CSV of ``series_dir`` that has windows; optionally only file ``names``.

    Returns ``{"series": {file: {profile: raw}}, "raw": {profile: sum}, "normalised":
    {profile: score}, "n_windows": int, "alerts": {file: n_alerts}}``.
    """
    config = config or NAB_CONFIG
    windows = nab.load_windows(windows_file)
    files = sorted(p for p in Path(series_dir).glob("*.csv") if p.name in windows)
    if names is not None:
        files = [p for p in files if p.name in set(names)]
    per_series: dict[str, dict[str, float]] = {}
    n_alerts: dict[str, int] = {}
    raw = dict.fromkeys(nab.PROFILES, 0.0)
    n_windows = 0
    for path in files:
        ts, values = read_series(path)
        flags = detect_series(ts, values, config)
        if alerts_out is not None:
            alerts_out[path.name] = flags
        rows = nab.window_rows(ts, windows[path.name])
        n_windows += len(rows)
        n_alerts[path.name] = sum(flags)
        per_series[path.name] = {}
        for name in nab.PROFILES:
            score = nab.score_alerts(flags, rows, name).raw
            per_series[path.name][name] = score
            raw[name] += score
    normalised = {name: nab.normalised_score(raw[name], n_windows, name) for name in nab.PROFILES}
    return {
        "series": per_series,
        "raw": raw,
        "normalised": normalised,
        "n_windows": n_windows,
        "alerts": n_alerts,
    }


NAB_GRID: dict[str, list[Any]] = {
    "seasonal": [True, False],
    "weekly": [True, False],
    "threshold": [1.05, 1.1, 1.15, 1.2],
    "tail_quantile": [0.98, 0.99],
    "burst_halflife_s": [3600.0, 7200.0],
    "tail_prior": [1.0, 1.5],
}
"""The grid (over the live defaults) that ``NAB_CONFIG`` was chosen from."""


def _objective(raw: Mapping[str, float], n_windows: int) -> float:
    return nab.normalised_score(raw["standard"], n_windows, "standard") + nab.normalised_score(
        raw["reward_low_FP_rate"], n_windows, "reward_low_FP_rate"
    )


def leave_one_out(
    series_dir: Path | str,
    windows_file: Path | str,
    grid: Mapping[str, Sequence[Any]] = NAB_GRID,
    base: SpikeConfig | None = None,
) -> dict[str, Any]:
    """Leave-one-series-out check of choosing a configuration from ``grid``.

    Every grid point is scored on every series once.  For each held-out series, the point
    with the best standard + reward_low_FP normalised score on the other series is scored on
    it; held-out raw scores add up to the returned normalised ``loo`` scores.  ``full`` is the
    best point on all series (what ``NAB_CONFIG`` was picked as) with its scores.
    """
    base = base or SpikeConfig()
    keys = list(grid)
    runs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        point = dict(zip(keys, values, strict=True))
        runs.append((point, score_series_dir(series_dir, windows_file, replace(base, **point))))
    windows = nab.load_windows(windows_file)
    names = sorted(runs[0][1]["series"])
    n_win = {name: len(windows[name]) for name in names}

    def subset(result: dict[str, Any], subset_names: Sequence[str]) -> float:
        raw = {p: sum(result["series"][n][p] for n in subset_names) for p in nab.PROFILES}
        return _objective(raw, sum(n_win[n] for n in subset_names))

    held_raw = dict.fromkeys(nab.PROFILES, 0.0)
    folds = {}
    for held in names:
        train = [n for n in names if n != held]
        point, result = max(runs, key=lambda run: subset(run[1], train))
        folds[held] = {"config": point, "raw": result["series"][held]}
        for p in nab.PROFILES:
            held_raw[p] += result["series"][held][p]
    total_windows = sum(n_win.values())
    best_point, best = max(runs, key=lambda run: subset(run[1], names))
    return {
        "loo": {p: nab.normalised_score(held_raw[p], total_windows, p) for p in nab.PROFILES},
        "folds": folds,
        "full": {"config": best_point, "normalised": best["normalised"]},
    }


def command(
    series: Path = typer.Option(
        ..., "--series", help="Folder of NAB-style CSV files (timestamp,value)."
    ),
    windows: Path = typer.Option(
        ..., "--windows", help="NAB windows.json (keys end with the CSV file name)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for <file>.csv with timestamp,anomaly_score."
    ),
) -> None:
    """Score the spike detector on NAB series; last line: normalised scores per profile."""
    alerts: dict[str, list[bool]] = {}
    result = score_series_dir(series, windows, NAB_CONFIG, alerts_out=alerts)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, flags in alerts.items():
            ts, _ = read_series(Path(series) / name)
            with (out / name).open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["timestamp", "anomaly_score"])
                for t, flag in zip(ts, flags, strict=True):
                    w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), int(flag)])
    typer.echo("config " + " ".join(f"{k}={v}" for k, v in asdict(NAB_CONFIG).items()))
    for name, scores in result["series"].items():
        parts = " ".join(f"{p}={v:.4f}" for p, v in scores.items())
        typer.echo(f"{name} alerts={result['alerts'][name]} raw {parts}")
    typer.echo(
        f"windows={result['n_windows']} raw "
        + " ".join(f"{p}={v:.4f}" for p, v in result["raw"].items())
    )
    typer.echo(" ".join(f"{p}={v:.1f}" for p, v in result["normalised"].items()))
