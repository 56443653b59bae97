"""``hypermicro eval brands`` on small fixture CSVs (both accepted formats)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.evaluation.brands import command, read_gold

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "brands"


def run(csv: Path) -> list[str]:
    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, ["--csv", str(csv), "--brands", str(FIX / "brands.yaml")])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def test_sanders_format_per_brand_and_micro_last_line() -> None:
    lines = run(FIX / "sanders_format.csv")
    # apple: rows 1-3 matched (4 is the fruit: missed); row 7 "iPhone ... Android" is an apple FP.
    # google: rows 5-7 matched, row 8 has no brand term.
    apple = next(line for line in lines if line.startswith("apple"))
    assert apple.split()[1:] == ["0.7500", "0.7500", "0.7500", "3", "1", "4"]
    google = next(line for line in lines if line.startswith("google"))
    assert google.split()[1:] == ["1.0000", "0.7500", "0.8571", "3", "0", "4"]
    assert lines[-1] == "precision=0.8571 recall=0.7500 f1=0.8000 n=8"


def test_generic_format_with_multiple_and_empty_gold() -> None:
    lines = run(FIX / "generic.csv")
    assert re.fullmatch(r"precision=1\.0000 recall=1\.0000 f1=1\.0000 n=4", lines[-1])


def test_format_detection(tmp_path: Path) -> None:
    rows = read_gold(FIX / "generic.csv")
    assert [sorted(r.brands) for r in rows] == [["apple"], ["apple", "google"], [], []]
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(typer.BadParameter, match="unknown CSV format"):
        read_gold(bad)
