"""The ``hypermicro`` command line: every command and sub-command is there."""

from __future__ import annotations

import os
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


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # the error box must not wrap the message
    return subprocess.run([sys.executable, "-m", "pipeline.cli", "bench", "pipeline", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)


def test_bench_refuses_a_mix_and_a_posts_file_together(tmp_path: Path) -> None:
    """Either generated or real posts are measured; asking for both must not silently drop one."""
    (tmp_path / "p.jsonl").write_text("{}\n")
    out = _bench("--posts-file", str(tmp_path / "p.jsonl"), "--mix", "0.3:0.1", "--bootstrap", "127.0.0.1:1")
    assert out.returncode != 0
    assert "--mix" in out.stderr and "--posts-file" in out.stderr


def test_bench_says_when_a_posts_file_holds_no_valid_post(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"text": "no id, no author"}\nnot json\n')
    out = _bench("--posts-file", str(tmp_path / "p.jsonl"), "--bootstrap", "127.0.0.1:1")
    assert out.returncode != 0
    assert "2 invalid records left out" in out.stderr
    assert "holds no valid post" in out.stderr
