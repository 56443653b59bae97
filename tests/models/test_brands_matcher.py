"""SpacyBrandMatcher: surface forms, normalisation, context gates, queries, spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.base import BrandHit, BrandMatcher, PostInput
from models.brands import SpacyBrandMatcher
from models.factories import registry
from pipeline.core.brands import BrandConfig, load_brands, parse_brands

DEFAULT_BRANDS = Path(__file__).resolve().parents[2] / "pipeline" / "config" / "brands.yaml"


@pytest.fixture(scope="module")
def default() -> SpacyBrandMatcher:
    return SpacyBrandMatcher(load_brands(DEFAULT_BRANDS))


@pytest.fixture(scope="module")
def tech() -> SpacyBrandMatcher:
    return SpacyBrandMatcher(
        parse_brands(
            {
                "brands": [
                    {
                        "id": "apple",
                        "name": "Apple",
                        "aliases": ["iPhone", "App Store"],
                        "handles": ["@apple"],
                        "hashtags": ["#apple"],
                        "context": ["iphone", "mac*", "store", "steve jobs"],
                        "context_applies_to": ["name"],
                    },
                    {"id": "cafe", "name": "Café Noir", "aliases": ["Straße Kaffee"]},
                    {
                        "id": "acme",
                        "name": "Acme",
                        "query": '(acme NEAR/2f rocket*) OR ("road runner" AND NOT coyote) OR author:acmeofficial',
                    },
                    {
                        "id": "zed",
                        "name": "Zed",
                        "query": "zed NEAR/1 (editor OR ide) lang:en source:git*",
                    },
                ]
            }
        )
    )


def by_brand(hits: list[BrandHit]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for h in hits:
        out.setdefault(h.brand_id, []).append((h.matched_text, h.rule))
    return out


def one(m: SpacyBrandMatcher, text: str, **meta: str) -> dict[str, list[tuple[str, str]]]:
    return by_brand(m.match([PostInput(text=text, **meta)])[0])


def test_implements_protocol_and_registry(tmp_path: Path) -> None:
    m = registry.create("brand_matcher", "spacy", brands_file=DEFAULT_BRANDS)
    assert isinstance(m, BrandMatcher) and isinstance(m, SpacyBrandMatcher)
    assert "spacy" in registry.names("brand_matcher")
    assert (
        registry.create("brand_matcher", "spacy", brands=load_brands(DEFAULT_BRANDS)).brands[0].id
        == "nimbus"
    )


def test_every_surface_rule_case_and_diacritics_insensitive(default: SpacyBrandMatcher) -> None:
    got = one(default, "NIMBÚS AIR and nimbis air, @NimbusAir #FlyNimbus, nimbusair, VOLTKART")
    assert got["nimbus"] == [
        ("NIMBÚS AIR", "name"),
        ("nimbis air", "misspelling"),
        ("@NimbusAir", "handle"),
        ("#FlyNimbus", "hashtag"),
        ("nimbusair", "alias"),
    ]
    assert got["voltcart"] == [("VOLTKART", "misspelling")]


def test_spans_point_into_the_text(default: SpacyBrandMatcher) -> None:
    texts = [
        "Flew Nimbus Airlines today ✈️ — great crew",
        "(#skyway) lost my bag… @VoltCart's van too",
    ]
    for text, hits in zip(texts, default.match_texts(texts), strict=True):
        assert hits
        for h in hits:
            assert text[h.start : h.end] == h.matched_text


def test_hashtags_and_handles_are_whole_tokens(default: SpacyBrandMatcher) -> None:
    got = one(default, ".@skywayair fix it #skyway, #skyway's #skywayfail @skywayairline")
    assert got["skyway"] == [
        ("@skywayair", "handle"),
        ("#skyway", "hashtag"),
        ("#skyway", "hashtag"),
    ]
    # a name does not match inside a longer word, handle or hashtag
    assert one(default, "voltcarts @voltcartfan #voltcartlove") == {}


def test_forms_inside_compound_tags_whose_words_are_marked(default: SpacyBrandMatcher, tech: SpacyBrandMatcher) -> None:
    text = "thanks @VoltCartHelp and .@NimbusAirSupport #VoltKart2024 #skyway_fail"
    got = one(default, text)
    assert got["voltcart"] == [("@VoltCartHelp", "name"), ("#VoltKart2024", "misspelling")]
    assert got["nimbus"] == [("@NimbusAirSupport", "name")]
    assert got["skyway"] == [("#skyway_fail", "name")]
    for h in default.match_texts([text])[0]:
        assert text[h.start : h.end] == h.matched_text
    # no marked words, a word only partly spelled, or a tag inside an address: no mention
    assert one(default, "@voltcartfan #VoltcartsRule @NimbusCloud mail x@VoltCart.com") == {}
    # the hit is gated like the bare word ("apple" needs context; "iPhone" does not)
    assert one(tech, "#ApplePie recipe") == {}
    assert one(tech, "#AppleWatch died, macbook too")["apple"] == [("#AppleWatch", "name")]
    assert one(tech, "#iPhone4S battery")["apple"] == [("#iPhone4S", "alias")]
    # the exact handle keeps its own rule
    assert one(default, "@VoltCart hi")["voltcart"] == [("@VoltCart", "handle")]


def test_multiword_names_match_hyphenated_and_as_hashtag(default: SpacyBrandMatcher) -> None:
    assert one(default, "Nimbus-Air again")["nimbus"] == [("Nimbus-Air", "name")]
    # ... and as a handle: a file that lists no handle still counts replies to the brand
    assert one(default, "@voltkart where is my order")["voltcart"] == [("@voltkart", "misspelling")]
    assert one(default, "#VoltCart rocks")["voltcart"][0][0] == "#VoltCart"


def test_query_spans_are_reported(default: SpacyBrandMatcher) -> None:
    assert one(default, "look at that nimbus cloud") == {}
    # NEAR matches are reported as one span covering both sides; overlapping ones merge to the longest
    assert one(default, "nimbus flight delayed again") == {
        "nimbus": [("nimbus flight delayed", "query")]
    }


def test_brand_with_only_a_query_matches_only_via_the_query() -> None:
    brands = parse_brands(
        {"brands": [{"id": "orbit", "name": "Orbit", "query": "orbit NEAR/3 gum"}]}
    )
    m = SpacyBrandMatcher(brands)
    assert m.match_texts(["Orbit is in orbit"]) == [[]]
    assert [(h.matched_text, h.rule) for h in m.match_texts(["orbit gum tastes fine"])[0]] == [
        ("orbit gum", "query")
    ]


def test_context_gates_only_the_ambiguous_name(tech: SpacyBrandMatcher) -> None:
    assert one(tech, "apple pie with fresh apple juice") == {}
    assert one(tech, "Apple store was packed")["apple"] == [("Apple", "name")]
    assert one(tech, "apple macbook keyboard broke")["apple"] == [
        ("apple", "name")
    ]  # wildcard context
    # an ungated form in the post also confirms the name
    assert one(tech, "Apple, fix the iPhone")["apple"] == [("Apple", "name"), ("iPhone", "alias")]
    assert one(tech, "#apple harvest")["apple"] == [("#apple", "hashtag")]  # hashtags are not gated


def test_diacritics_and_transliteration(tech: SpacyBrandMatcher) -> None:
    assert one(tech, "CAFE NOIR, strasse kaffee")["cafe"] == [
        ("CAFE NOIR", "name"),
        ("strasse kaffee", "alias"),
    ]


def test_near_is_ordered_and_counts_words(tech: SpacyBrandMatcher) -> None:
    assert one(tech, "acme, the best rockets") == {"acme": [("acme, the best rockets", "query")]}
    assert one(tech, "rockets by acme") == {}  # NEAR/2f: acme must come first
    assert one(tech, "acme makes very many small rockets") == {}  # 4 words apart


def test_not_and_author_filter(tech: SpacyBrandMatcher) -> None:
    assert one(tech, "road runner show")["acme"] == [("road runner", "query")]
    assert one(tech, "road runner vs coyote") == {}
    hits = tech.match([PostInput(text="hello world", author_handle="@AcmeOfficial")])[0]
    assert hits == [BrandHit("acme", "", 0, 0, "query")]


def test_lang_and_source_filters(tech: SpacyBrandMatcher) -> None:
    text = "the zed editor is fast"
    assert one(tech, text, lang="en-US", source="github")["zed"] == [("zed editor", "query")]
    assert one(tech, text, lang="de", source="github") == {}
    assert one(tech, text, lang="en", source="mastodon") == {}


def test_overlapping_forms_give_one_hit_per_span() -> None:
    brands = parse_brands(
        {
            "brands": [
                {
                    "id": "n",
                    "name": "Nimbus Air",
                    "aliases": ["Nimbus Airlines", "Nimbus"],
                    "query": '"nimbus air*"',
                }
            ]
        }
    )
    hits = SpacyBrandMatcher(brands).match_texts(["Nimbus Airlines rocks"])[0]
    assert [(h.matched_text, h.rule) for h in hits] == [("Nimbus Airlines", "alias")]


def test_batches_empty_texts_and_order() -> None:
    m = SpacyBrandMatcher([BrandConfig(id="x", name="Xylo")])
    texts = ["", "xylo"] * 700
    out = m.match_texts(texts)
    assert len(out) == len(texts)
    assert [bool(h) for h in out] == [t == "xylo" for t in texts]


def test_vocabulary_rebuild_keeps_matching() -> None:
    m = SpacyBrandMatcher([BrandConfig(id="x", name="Xylo", context=["band*"])], max_strings=50)
    first = m.match_texts([f"word{i} xylo band{i}" for i in range(200)])
    assert all(h and h[0].brand_id == "x" for h in first)
    assert m.match_texts(["xylo bandana"])[0][0].matched_text == "xylo"


def test_lone_wildcard_can_anchor_a_query() -> None:
    m = SpacyBrandMatcher(parse_brands([{"id": "w", "name": "W", "query": "nimbu* NOT cloud*"}]))
    got = [
        [(h.matched_text, h.rule) for h in hs]
        for hs in m.match_texts(["NIMBUS rocks", "nimbus clouds", "xnimbus"])
    ]
    assert got == [[("NIMBUS", "query")], [], []]
