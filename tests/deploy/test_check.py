"""``hypermicro check`` and the start-up gate of worker and API: one line per broken input, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real CLI in a clean environment (no inherited HYPERMICRO_*, no .env in cwd)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("HYPERMICRO_")}
    base.update(PYTHONPATH=str(REPO), **env)
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=base, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def problem_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    out = (proc.stdout + proc.stderr).strip().splitlines()
    assert "Traceback" not in proc.stdout + proc.stderr
    return out


BAD_BRANDS = """\
brands:
  - id: nimbus
    name: Nimbus
    includ: ["nimbus"]
"""

BROKEN_INPUTS = {
    "bootstrap": ({"HYPERMICRO_KAFKA_BOOTSTRAP": "nonsense"}, "HYPERMICRO_KAFKA_BOOTSTRAP"),
    "missing brands file": ({"HYPERMICRO_BRANDS_FILE": "no/such/brands.yaml"}, "HYPERMICRO_BRANDS_FILE"),
    "invalid brands file": ({"HYPERMICRO_BRANDS_FILE": "bad_brands.yaml"}, "HYPERMICRO_BRANDS_FILE"),
    "bad enum": ({"HYPERMICRO_CLICKHOUSE_BACKEND": "postgres"}, "HYPERMICRO_CLICKHOUSE_BACKEND"),
    "tokens not JSON": ({"HYPERMICRO_API_READ_TOKENS": "tok1,tok2"}, "HYPERMICRO_API_READ_TOKENS"),
    "missing topics file": ({"HYPERMICRO_TOPICS_FILE": "topics.yml"}, "HYPERMICRO_TOPICS_FILE"),
    "unknown routes key": ({"HYPERMICRO_ALERT_ROUTES_FILE": "routes.yaml"}, "HYPERMICRO_ALERT_ROUTES_FILE"),
    "namespace": ({"HYPERMICRO_TOPIC_NAMESPACE": "team a"}, "HYPERMICRO_TOPIC_NAMESPACE"),
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "bad_brands.yaml").write_text(BAD_BRANDS)
    (tmp_path / "routes.yaml").write_text("routes:\n  comms:\n    destinations: []\nfallbak: {}\n")
    return tmp_path


@pytest.mark.parametrize("case", sorted(BROKEN_INPUTS))
def test_check_names_each_broken_input_on_one_line(case: str, workdir: Path) -> None:
    env, setting = BROKEN_INPUTS[case]
    proc = run_cli(["check", "--offline"], env, workdir)
    assert proc.returncode != 0
    lines = problem_lines(proc)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"config error: {setting}: ")


def test_check_reports_every_invalid_setting_at_once(workdir: Path) -> None:
    env = {**BROKEN_INPUTS["bad enum"][0], **BROKEN_INPUTS["namespace"][0], **BROKEN_INPUTS["bootstrap"][0]}
    proc = run_cli(["check", "--offline"], env, workdir)
    assert proc.returncode != 0
    names = sorted(line.split(":")[1].strip() for line in problem_lines(proc))
    assert names == ["HYPERMICRO_CLICKHOUSE_BACKEND", "HYPERMICRO_KAFKA_BOOTSTRAP", "HYPERMICRO_TOPIC_NAMESPACE"]


@pytest.mark.kafka
@pytest.mark.chserver
def test_check_passes_on_the_running_servers(kafka_bootstrap: str, clickhouse_server: tuple[str, int],
                                             tmp_path: Path) -> None:
    host, port = clickhouse_server
    env = {"HYPERMICRO_KAFKA_BOOTSTRAP": kafka_bootstrap, "HYPERMICRO_CLICKHOUSE_BACKEND": "server",
           "HYPERMICRO_CLICKHOUSE_HOST": host, "HYPERMICRO_CLICKHOUSE_PORT": str(port)}
    proc = run_cli(["check"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("ok:")


def test_check_names_unreachable_services(tmp_path: Path) -> None:
    env = {"HYPERMICRO_KAFKA_BOOTSTRAP": "127.0.0.1:9", "HYPERMICRO_CLICKHOUSE_BACKEND": "server",
           "HYPERMICRO_CLICKHOUSE_PORT": "9", "HYPERMICRO_CLICKHOUSE_HOST": "127.0.0.1"}
    proc = run_cli(["check"], env, tmp_path)
    assert proc.returncode != 0
    lines = problem_lines(proc)
    assert len(lines) == 2, lines
    assert lines[0].startswith("config error: HYPERMICRO_KAFKA_BOOTSTRAP: no Kafka broker reachable")
    assert lines[1].startswith("config error: HYPERMICRO_CLICKHOUSE_HOST: ClickHouse at 127.0.0.1:9")


@pytest.mark.parametrize("case", ["bootstrap", "missing brands file", "tokens not JSON"])
def test_worker_refuses_to_start_on_a_broken_config(case: str, workdir: Path) -> None:
    env, setting = BROKEN_INPUTS[case]
    proc = run_cli(["worker"], {**env, "HYPERMICRO_CHDB_PATH": str(workdir / "chdb")}, workdir)
    assert proc.returncode == 2
    (line,) = problem_lines(proc)
    assert line.startswith(f"config error: {setting}: ")


@pytest.mark.parametrize("case", ["invalid brands file", "bad enum"])
def test_api_refuses_to_serve_a_broken_config(case: str, workdir: Path) -> None:
    env, setting = BROKEN_INPUTS[case]
    proc = run_cli(["api", "--port", "0"], {**env, "HYPERMICRO_CHDB_PATH": str(workdir / "chdb")}, workdir)
    assert proc.returncode == 2
    (line,) = problem_lines(proc)
    assert line.startswith(f"config error: {setting}: ")


@pytest.mark.parametrize("case", ["bad enum", "tokens not JSON"])
def test_any_command_reports_broken_settings_on_one_line(case: str, workdir: Path) -> None:
    env, setting = BROKEN_INPUTS[case]
    proc = run_cli(["migrate"], {**env, "HYPERMICRO_CHDB_PATH": str(workdir / "chdb")}, workdir)
    assert proc.returncode == 2
    (line,) = problem_lines(proc)
    assert line.startswith(f"config error: {setting}: ")
