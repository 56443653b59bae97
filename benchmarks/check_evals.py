"""Run every ``hypermicro eval`` command on the shared data and fail if a figure drops below
its recorded floor (``benchmarks/eval_floors.json``). Used by ``make test`` when data exists.

    python benchmarks/check_evals.py --shared ../shared/data
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOWER_IS_BETTER = ("false_alerts", "median_delay_min")
REPO = HERE.parent


def last_line_figures(output: str) -> dict[str, float]:
    lines = [ln for ln in output.strip().splitlines() if "=" in ln]
    if not lines:
        return {}
    return {k: float(v) for k, v in re.findall(r"([A-Za-z_0-9]+)=(-?[0-9.]+(?:e-?\d+)?|nan)", lines[-1])}


def commands(shared: Path, tmp: Path) -> dict[str, list[str]]:
    scenario = tmp / "scenario"
    subprocess.run([sys.executable, "-c",
                    "from pipeline.evaluation.scenario import write_scenario; import sys; "
                    f"write_scenario({str(scenario)!r}, 9001)"], check=True, cwd=REPO)
    subprocess.run([sys.executable, str(HERE / "buzz_streams.py"), "--shared", str(shared),
                    "--out", str(tmp / "buzz"), "--only", "apple"], check=True, cwd=REPO)
    apple = tmp / "buzz" / "apple"
    tw = shared / "tweeteval_sentiment"
    return {
        "sentiment": ["eval", "sentiment", "--texts", str(tw / "val_text.txt"), "--labels", str(tw / "val_labels.txt")],
        "topics": ["eval", "topics", "--jsonl", str(shared / "tweet_topic" / "en_validation.jsonl")],
        "brands": ["eval", "brands", "--csv", str(shared / "sanders_brand_sentiment" / "full-corpus.csv"),
                   "--brands", str(REPO / "pipeline" / "config" / "brands.sanders.yaml")],
        "spikes": ["eval", "spikes", "--series", str(shared / "nab_realtweets" / "data"),
                   "--windows", str(shared / "nab_realtweets" / "windows.json"), "--out", str(tmp / "spikes")],
        "buzz": ["eval", "buzz", "--posts", str(apple / "posts.jsonl"), "--brands", str(apple / "brands.yaml"),
                 "--truth", str(apple / "episodes.json")],
        "voices": ["eval", "voices", "--posts", str(scenario / "posts.jsonl"), "--truth", str(scenario / "truth.json")],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    floors = json.loads((HERE / "eval_floors.json").read_text())
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, argv in commands(args.shared, Path(tmpdir)).items():
            if args.only and name not in args.only:
                continue
            proc = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], cwd=REPO,
                                  capture_output=True, text=True)
            figures = last_line_figures(proc.stdout)
            print(f"[{name}] {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else '(no output)'}")
            if proc.returncode != 0:
                failures.append(f"{name}: exit {proc.returncode}: {proc.stderr[-800:]}")
                continue
            for key, floor in floors.get(name, {}).items():
                value = figures.get(key)
                if key in LOWER_IS_BETTER:
                    ok = value is not None and value <= floor
                else:
                    ok = value is not None and value >= floor
                if not ok:
                    failures.append(f"{name}: {key}={value} violates floor {floor}")
    for f in failures:
        print("EVAL FLOOR FAILED:", f)
    print(f"evals: {'FAILED' if failures else 'ok'} ({len(failures)} below floor)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
