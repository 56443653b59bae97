"""Evaluate the spike detector on NAB-style series (e.g. NAB realTweets) with the NAB scorer.

Each CSV (``timestamp,value``) is fed row by row to the same :class:`SpikeMonitor` the live
pipeline uses, with its default sensitivity and budget (``value`` counted as negative
mentions); rows where it alerts are alerts. Nothing is chosen per series and no number is
fitted on these series; design variants were compared on them, so ``docs/spikes.md`` reports
both the in-sample figure and a leave-one-series-out one.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from pipeline.detect.spikes import Sensitivity, SpikeMonitor
from pipeline.evaluation import nab

__all__ = [
    "command",
    "detect_series",
    "infer_bucket_s",
    "read_series",
    "score_series_dir",
]

SUBJECT = "series"


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
    timestamps: Sequence[datetime], values: Sequence[float],
    sensitivity: Sensitivity = Sensitivity(),
) -> list[bool]:
    """Run one fresh :class:`SpikeMonitor` over a series (``value`` = mentions, all counted as
    negative); ``True`` on the rows where it alerted."""
    mon = SpikeMonitor(bucket_s=infer_bucket_s(timestamps), sensitivity=sensitivity)
    return [
        mon.update(SUBJECT, t, v, v) is not None for t, v in zip(timestamps, values, strict=True)
    ]


def score_series_dir(
    series_dir: Path | str,
    windows_file: Path | str,
    sensitivity: Sensitivity = Sensitivity(),
    names: Sequence[str] | None = None,
    alerts_out: dict[str, list[bool]] | None = None,
) -> dict[str, Any]:
    """Score every CSV of ``series_dir`` that has windows; optionally only file ``names``.

    Returns ``{"series": {file: {profile: raw}}, "raw": {profile: sum}, "normalised":
    {profile: score}, "n_windows": int, "alerts": {file: n_alerts}}``.
    """
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
        flags = detect_series(ts, values, sensitivity)
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
    result = score_series_dir(series, windows, alerts_out=alerts)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, flags in alerts.items():
            ts, _ = read_series(Path(series) / name)
            with (out / name).open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["timestamp", "anomaly_score"])
                for t, flag in zip(ts, flags, strict=True):
                    w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), int(flag)])
    sens = Sensitivity()
    budget = SpikeMonitor().false_alerts_per_week
    typer.echo(f"config ratio={sens.ratio} excess_per_hour={sens.excess_per_hour} "
               f"false_alerts_per_week={budget:g} (defaults, same for every series)")
    for name, scores in result["series"].items():
        parts = " ".join(f"{p}={v:.4f}" for p, v in scores.items())
        typer.echo(f"{name} alerts={result['alerts'][name]} raw {parts}")
    typer.echo(
        f"windows={result['n_windows']} raw "
        + " ".join(f"{p}={v:.4f}" for p, v in result["raw"].items())
    )
    typer.echo(" ".join(f"{p}={v:.1f}" for p, v in result["normalised"].items()))
