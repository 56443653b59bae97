"""The ``hypermicro`` command line: every command and sub-command is there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMANDS: dict[tuple[str, ...], set[str]] = {
    (): {"check", "worker", "demo", "api", "migrate", "connect", "replay", "voices", "eval", "train", "bench",
         "connectors", "alerts"},
    ("eval",): {"sentiment", "brand-sentiment", "topics", "brands", "spikes", "buzz", "voices"},
    ("train",): {"sentiment", "topics"},
    ("bench",): {"pipeline"},
}


@pytest.mark.parametrize("group", list(COMMANDS), ids=lambda g: " ".join(g) or "hypermicro")
def test_help_lists_every_command(group: tuple[str, ...]) -> None:
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", *group, "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    for name in COMMANDS[group]:
        assert f" {name} " in out, f"{name} missing from {' '.join(group)} --help"
