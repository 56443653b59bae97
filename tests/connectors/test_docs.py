"""docs/connectors.md: its worked example is the shipped, tested module; its YAML is valid."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from connectors.registry import get_connector
from connectors.run_types import RunnerOptions

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "connectors.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", DOC, flags=re.DOTALL)


def _tagged(lang: str) -> dict[str, str]:
    out = {}
    for block_lang, body in BLOCKS:
        first, _, rest = body.partition("\n")
        if block_lang == lang and first.startswith("# "):
            out[first[2:].strip()] = rest
    return out


def test_worked_example_is_the_shipped_module() -> None:
    blocks = _tagged("python")
    assert blocks["connectors/sources/jsonfeed.py"] == (ROOT / "connectors/sources/jsonfeed.py").read_text()


def test_test_excerpt_is_part_of_the_real_test() -> None:
    excerpt = _tagged("python")["tests/connectors/test_jsonfeed.py (excerpt)"]
    assert excerpt in (ROOT / "tests/connectors/test_jsonfeed.py").read_text()
    assert "contract_tests(" in excerpt


def test_yaml_example_builds_a_valid_spec_and_runner_options() -> None:
    for tag, body in _tagged("yaml").items():
        name = tag.removeprefix("connector:").strip()
        cfg = yaml.safe_load(body)
        options = RunnerOptions.from_config(cfg)
        spec_cfg = {k: v for k, v in cfg.items() if k not in RunnerOptions.config_keys()}
        connector = get_connector(name).from_config(spec_cfg)
        assert options.poll_interval_s == 300 and connector.spec.safe_dump()


def test_every_builtin_is_documented() -> None:
    from connectors.registry import BUILTINS

    for name in [*BUILTINS, "file"]:
        assert f"| `{name}` |" in DOC
