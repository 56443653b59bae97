"""The examples in docs/brands.md are valid and do what the text says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from pipeline.core.brand_query import QuerySyntaxError, parse
from pipeline.core.brands import parse_brands

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "brands.md").read_text(encoding="utf-8")


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def test_yaml_example_is_a_valid_config() -> None:
    (example,) = blocks("yaml")
    brands = parse_brands(yaml.safe_load(example), "docs/brands.md")
    assert [b.id for b in brands] == ["nimbus", "skyway"]


def test_query_examples_parse() -> None:
    queries = [q for q in blocks("text")[1].splitlines() if q.strip()]
    assert len(queries) == 3
    for q in queries:
        parse(q)


def test_error_table_is_what_the_parser_says() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", DOC, flags=re.M)
    assert len(rows) == 4
    for query, message in rows:
        with pytest.raises(QuerySyntaxError) as err:
            parse(query)
        assert str(err.value) == message


def test_python_example_output(monkeypatch: pytest.MonkeyPatch) -> None:
    (code,) = blocks("python")
    expected = code.strip().splitlines()[-1].removeprefix("# ").replace("BrandHit", "")
    monkeypatch.chdir(ROOT)  # the example uses a path relative to the repository root
    scope: dict[str, object] = {}
    exec(code, scope)
    hits = scope["hits"]
    assert isinstance(hits, list)
    got = [[(h.brand_id, h.matched_text, h.start, h.end, h.rule) for h in hs] for hs in hits]
    assert got == ast.literal_eval(expected)
