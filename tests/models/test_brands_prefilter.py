"""The matcher's substring prefilter skips tokenizing posts that cannot touch a brand, and never
changes what is matched."""

from __future__ import annotations

from pathlib import Path

from models.base import PostInput
from models.brands import SpacyBrandMatcher
from pipeline.core.brands import load_brands, parse_brands

DEFAULT_BRANDS = Path(__file__).resolve().parents[2] / "pipeline" / "config" / "brands.yaml"

TEXTS = [
    "Nimbus Air lost my bag", "NÍMBUS AIR again!!", "flying #NimbusAir tomorrow", ".@nimbusair fix this",
    "nimbus-air is late", "Skyway Airlines rocks", "voltcarts everywhere", "Beautiful sunset tonight",
    "", "rocketeers of acme", "the road runner wins", "road runner and coyote", "Café Noir opens",
    "CAFE NOIR", "my iPhone broke", "apple pie recipe", "Apple store in town", "Straße Kaffee",
]


def _both(m: SpacyBrandMatcher, posts: list[PostInput]) -> tuple[list, list]:
    fast = m.match(posts)
    needles, m._needles = m._needles, None
    try:
        full = m.match(posts)
    finally:
        m._needles = needles
    return fast, full


def test_prefilter_is_on_for_the_default_brands_and_changes_nothing() -> None:
    m = SpacyBrandMatcher(load_brands(DEFAULT_BRANDS))
    assert m._needles is not None
    fast, full = _both(m, [PostInput(text=t) for t in TEXTS])
    assert fast == full and any(fast)


def test_prefilter_agrees_on_wildcards_accents_and_queries() -> None:
    m = SpacyBrandMatcher(parse_brands({"brands": [
        {"id": "apple", "name": "Apple", "aliases": ["iPhone"], "handles": ["@apple"],
         "context": ["iphone", "mac*", "store"], "context_applies_to": ["name"]},
        {"id": "cafe", "name": "Café Noir", "aliases": ["Straße Kaffee"]},
        {"id": "acme", "name": "Acme", "query": '(acme NEAR/2f rocket*) OR ("road runner" AND NOT coyote)'},
    ]}))
    assert m._needles is not None
    fast, full = _both(m, [PostInput(text=t) for t in TEXTS])
    assert fast == full and any(fast)


def test_field_only_queries_turn_the_prefilter_off() -> None:
    m = SpacyBrandMatcher(parse_brands({"brands": [
        {"id": "acme", "name": "Acme", "query": "author:acmeofficial"},
    ]}))
    assert m._needles is None
    hits = m.match([PostInput(text="no brand words here", author_handle="acmeofficial")])
    assert [h.brand_id for h in hits[0]] == ["acme"]
