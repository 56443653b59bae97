"""Brand config loading and validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core.brands import BrandConfig, BrandConfigError, load_brands, parse_brands

CONFIG = Path(__file__).resolve().parents[2] / "pipeline" / "config"


@pytest.mark.parametrize("name", ["brands.yaml", "brands.sanders.yaml"])
def test_shipped_configs_load(name: str) -> None:
    brands = load_brands(CONFIG / name)
    assert brands and all(b.owner for b in brands)


def test_default_config_keeps_ids_and_owners() -> None:
    brands = {b.id: b for b in load_brands(CONFIG / "brands.yaml")}
    assert {"nimbus", "skyway", "voltcart"} <= set(brands)
    assert brands["nimbus"].owner == ["comms-nimbus@example.com"]
    assert brands["skyway"].competitors == ["nimbus"]


def test_owner_string_or_list_handles_and_hashtags_normalised() -> None:
    b = BrandConfig(id="a", name="A", owner="team-a", handles=["acme", "@acme"], hashtags=["acme"])
    assert b.owner == ["team-a"]
    assert b.handles == ["@acme"] and b.hashtags == ["#acme"]
    assert BrandConfig(id="b", name="B", owner=["x", "y"]).owner == ["x", "y"]


def test_bad_query_names_brand_column_and_expectation(tmp_path: Path) -> None:
    path = tmp_path / "brands.yaml"
    path.write_text(
        'brands:\n  - id: nimbus\n    name: Nimbus\n    query: "(nimbus OR sky) AND )"\n'
    )
    with pytest.raises(BrandConfigError) as err:
        load_brands(path)
    assert "query for brand 'nimbus': expected term or '(' at column 21, found ')'" in str(
        err.value
    )
    assert str(path) in str(err.value)


def test_all_problems_are_reported_together() -> None:
    data = {
        "brands": [
            {"id": "a", "name": "A", "competitors": ["b", "ghost"]},
            {"id": "b", "name": "B", "handles": ["not a handle"]},
            {"id": "a", "name": "Again"},
            {"id": "Bad Id", "name": "X"},
            {"id": "c", "name": "C", "query": "NOT c"},
            {"id": "d", "name": "D", "colour": "red"},
        ]
    }
    with pytest.raises(BrandConfigError) as err:
        parse_brands(data, "test.yaml")
    msg = str(err.value)
    assert "brand 'a': unknown competitor id 'ghost'" in msg
    assert "handle 'not a handle' must be @ followed by" in msg
    assert "duplicate brand id 'a'" in msg
    assert "brands[3] (Bad Id).id: id must be a lower-case slug" in msg
    assert "query for brand 'c' can match posts without any of its terms" in msg
    assert "brands[5] (d).colour: Extra inputs are not permitted" in msg


def test_self_competitor_and_nothing_to_match_are_rejected() -> None:
    with pytest.raises(BrandConfigError, match="lists itself as a competitor"):
        parse_brands([{"id": "a", "name": "A", "competitors": ["a"]}])
    with pytest.raises(BrandConfigError, match="has nothing to match"):
        parse_brands([{"id": "a", "name": "A", "match_name": False}])


def test_bad_context_term_and_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(BrandConfigError, match="context term 'x\\*y'"):
        parse_brands([{"id": "a", "name": "A", "context": ["x*y"]}])
    bad = tmp_path / "b.yaml"
    bad.write_text("brands: [\n")
    with pytest.raises(BrandConfigError, match="not valid YAML"):
        load_brands(bad)
    with pytest.raises(BrandConfigError, match="cannot read"):
        load_brands(tmp_path / "missing.yaml")
    with pytest.raises(BrandConfigError, match="expected a 'brands:' list"):
        parse_brands({"brands": None})


def test_query_only_brand_does_not_match_its_name() -> None:
    b = BrandConfig(id="q", name="Query Only", query="foo")
    assert not b.name_is_matched and b.surface_forms() == []
    assert BrandConfig(id="q", name="Q", query="foo", match_name=True).surface_forms() == [
        ("Q", "name")
    ]
    assert BrandConfig(id="q", name="Q", query="   ").query is None
