"""`hypermicro connectors new` makes an installable package whose documented test command passes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from connectors.scaffold import KINDS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "connectors.md"


def _env() -> dict[str, str]:
    # this checkout's hypermicro first (the venv may hold another editable copy)
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _documented_commands() -> tuple[str, str]:
    """The two commands of docs/connectors.md's "Scaffold" section, as written there."""
    block = re.search(r"## 1\. Scaffold\n\n```sh\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/connectors.md lost its scaffold block"
    new, test = [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]
    assert new.startswith("hypermicro connectors new ") and test.startswith("python -m pytest ")
    return new, test


@pytest.mark.parametrize("template", sorted(KINDS))
def test_documented_scaffold_installs_and_passes_its_contract_suite(template: str, tmp_path: Path) -> None:
    new, test = _documented_commands()
    name = f"kit{uuid.uuid4().hex[:6]}"  # unique: the package is installed into the shared venv
    new = new.replace("myforum", name)
    test = test.replace("myforum", name)
    made = _run([sys.executable, "-m", "pipeline.cli", *new.split()[1:], "--template", template], tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / new.split("--dir", 1)[1].split()[0]
    assert (root / "pyproject.toml").is_file() and (root / f"{name}_connector" / "__init__.py").is_file()

    install = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(root)],
                   tmp_path)
    assert install.returncode == 0, install.stderr[-3000:]
    try:
        listed = _run([sys.executable, "-m", "pipeline.cli", "connectors", "list"], tmp_path)
        assert re.search(rf"^{name}\s+hypermicro-{name}-connector\s+\S", listed.stdout, re.M), listed.stdout
        proc = _run([sys.executable, *test.split()[1:], "-p", "no:cacheprovider"], tmp_path)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        summary = proc.stdout.strip().splitlines()[-1]
        assert " passed" in summary and "failed" not in summary and "warning" not in summary, summary
    finally:
        _run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", f"hypermicro-{name}-connector"], tmp_path)


def test_list_columns_stay_aligned_with_long_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    import connectors.registry as registry
    from connectors.cli import connectors_app

    monkeypatch.setitem(registry.BUILTINS, "a_connector_with_a_rather_long_name",
                        "connectors.sources.rss:RssConnector")
    lines = CliRunner().invoke(connectors_app, ["list"]).output.strip().splitlines()
    starts = {re.search(r"\S+\s+\S+\s+(?=\S)", line).end() for line in lines}  # type: ignore[union-attr]
    assert len(starts) == 1, lines


def test_unknown_template_is_refused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from connectors.cli import connectors_app

    res = CliRunner().invoke(connectors_app, ["new", "acme", "--dir", str(tmp_path), "--template", "ftp"])
    assert res.exit_code != 0 and "unknown template" in res.output
    assert not (tmp_path / "pyproject.toml").exists()
