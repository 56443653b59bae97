"""NAB-style evaluation command on a small synthetic series folder."""

from __future__ import annotations

import csv
import json
import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import typer
from typer.testing import CliRunner

from pipeline.evaluation import spikes as eval_spikes

START = datetime(2015, 3, 1, 0, 2, 53)
ROWS = 3000  # 5-min rows, ~10 days


def write_series(folder: Path, name: str, spike_at: int | None, seed: int) -> list[datetime]:
    rng = np.random.default_rng(seed)
    ts = [START + timedelta(minutes=5 * i) for i in range(ROWS)]
    daily = [30 + 15 * math.sin(2 * math.pi * i / 288) for i in range(ROWS)]
    values = rng.poisson(daily)
    if spike_at is not None:
        values[spike_at : spike_at + 24] += rng.poisson(250, 24)
    with (folder / name).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        for t, v in zip(ts, values, strict=True):
            w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), int(v)])
    return ts


def make_dataset(tmp_path: Path) -> tuple[Path, Path]:
    series = tmp_path / "data"
    series.mkdir()
    ts_a = write_series(series, "Twitter_volume_A.csv", spike_at=2000, seed=1)
    write_series(series, "Twitter_volume_B.csv", spike_at=None, seed=2)
    write_series(series, "Twitter_volume_C.csv", spike_at=None, seed=3)  # no windows: skipped
    fmt = "%Y-%m-%d %H:%M:%S.000000"
    windows = {
        "realTweets/Twitter_volume_A.csv": [[ts_a[1900].strftime(fmt), ts_a[2100].strftime(fmt)]],
        "realTweets/Twitter_volume_B.csv": [],
    }
    wfile = tmp_path / "windows.json"
    wfile.write_text(json.dumps(windows))
    return series, wfile


def test_score_series_dir_detects_the_window(tmp_path: Path) -> None:
    series, wfile = make_dataset(tmp_path)
    alerts: dict[str, list[bool]] = {}
    result = eval_spikes.score_series_dir(series, wfile, alerts_out=alerts)
    assert set(result["series"]) == {"Twitter_volume_A.csv", "Twitter_volume_B.csv"}
    assert result["n_windows"] == 1
    flags = alerts["Twitter_volume_A.csv"]
    first = flags.index(True, 450)  # after the probationary rows
    assert 2000 <= first <= 2003  # fires at the onset of the burst
    assert sum(alerts["Twitter_volume_B.csv"][450:]) <= 1  # steady series stays (nearly) quiet
    assert result["normalised"]["standard"] > 90


def test_command_writes_alert_files_and_prints_scores_last(tmp_path: Path) -> None:
    series, wfile = make_dataset(tmp_path)
    out = tmp_path / "out"
    app = typer.Typer()
    app.command()(eval_spikes.command)
    res = CliRunner().invoke(
        app, ["--series", str(series), "--windows", str(wfile), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    last = res.output.strip().splitlines()[-1]
    assert re.fullmatch(
        r"standard=-?\d+\.\d reward_low_FP_rate=-?\d+\.\d reward_low_FN_rate=-?\d+\.\d", last
    )
    with (out / "Twitter_volume_A.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["timestamp", "anomaly_score"]
    assert len(rows) == ROWS
    assert {r["anomaly_score"] for r in rows} <= {"0", "1"}
    assert rows[2000]["timestamp"] == (START + timedelta(minutes=5 * 2000)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    assert any(r["anomaly_score"] == "1" for r in rows[2000:2010])


def test_infer_bucket_width() -> None:
    ts = [START + timedelta(minutes=5 * i) for i in range(10)] + [START + timedelta(hours=3)]
    assert eval_spikes.infer_bucket_s(ts) == 300
    assert eval_spikes.infer_bucket_s([START]) == 60
