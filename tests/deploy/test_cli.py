"""The ``hypermicro`` command line: every command is there, and a missing one fails loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from pipeline import cli

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_registered_command() -> None:
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    top = {name for group, name, _, _ in cli._COMMANDS if group is cli.app} | {name for name, _, _ in cli._GROUPS}
    for name in top | {"eval", "train", "bench"}:
        assert f" {name} " in out, f"{name} missing from --help"


@pytest.mark.parametrize("module, attr", [("pipeline.no_such_module", "command"), ("pipeline.check", "no_such_attr")])
def test_a_missing_command_fails_loudly(monkeypatch: pytest.MonkeyPatch, module: str, attr: str) -> None:
    monkeypatch.setattr(cli, "_COMMANDS", [(typer.Typer(), "ghost", module, attr)])
    monkeypatch.setattr(cli, "_GROUPS", [])
    with pytest.raises(cli.CommandLoadError, match=module):
        cli._register()
