"""Fuzzing the two parsers that see attacker-controlled input first: the worker's decoder and the
brand query parser. Any input either parses or fails with the documented error; nothing else
escapes (an escaping exception would be a crash loop of the worker). Bounded to run in seconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.bounds import DEFAULT_BOUNDS
from pipeline.core.brand_query import QuerySyntaxError, parse, to_string
from pipeline.core.decode import PoisonMessage, dead_letter, decode_post

FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

NASTY_STRINGS = st.sampled_from([
    "", " ", "\x00", "\u202e", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "<!channel>",
    "<https://evil.example/login|Open incident>", "'; DROP TABLE posts; --", "${jndi:ldap://x}", "a" * 5000,
    "%s%n", "\\", "\r\n\r\nX-Injected: 1", "NEAR/999999", "((((((((((", "NOT NOT NOT", "author:", '"',
])
TEXT = st.one_of(st.text(max_size=300), NASTY_STRINGS)
DATES = st.one_of(
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z", "2100-01-01",
                     "1970-01-01T00:00:00Z", "not a date", "", "2024-02-30T00:00:00Z", "1e308", "-1"]),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(lambda d: d.isoformat() + "Z"),
    st.integers(min_value=-(2**63), max_value=2**63),
)
JSON_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
ANY_JSON = st.recursive(JSON_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(TEXT, inner, max_size=4)), max_leaves=12)
POSTS = st.fixed_dictionaries(
    {"id": st.one_of(TEXT, st.integers()), "source": TEXT, "created_at": DATES, "text": TEXT},
    optional={"author": st.one_of(st.fixed_dictionaries({"id": st.one_of(TEXT, st.integers())},
                                                         optional={"handle": TEXT, "followers": st.integers()}),
                                  ANY_JSON),
              "mentions": st.lists(st.one_of(TEXT, st.none(), st.integers()), max_size=300),
              "links": ANY_JSON, "engagement": ANY_JSON, "schema_version": st.integers(), "url": ANY_JSON,
              "collected_at": DATES},
)


def _decode_or_poison(raw: bytes) -> None:
    try:
        post = decode_post(raw)
    except PoisonMessage as exc:
        assert exc.error_type and str(exc)
        letter = dead_letter(raw, b"key", "social.posts.raw", 0, 1, exc)
        assert len(letter.model_dump_json()) < 1_000_000
        return
    oldest, newest = DEFAULT_BOUNDS.window()
    assert oldest - timedelta(seconds=5) <= post.created_at <= newest + timedelta(seconds=5)
    assert post.created_at.tzinfo is UTC or post.created_at.utcoffset() == timedelta(0)


@FUZZ
@given(st.binary(max_size=2000))
def test_decoder_survives_random_bytes(raw: bytes) -> None:
    _decode_or_poison(raw)


@FUZZ
@given(ANY_JSON)
def test_decoder_survives_any_json(doc: object) -> None:
    _decode_or_poison(json.dumps(doc).encode())


@FUZZ
@given(POSTS)
def test_decoder_survives_adversarial_posts(post: dict) -> None:
    _decode_or_poison(json.dumps(post).encode())


@FUZZ
@given(st.one_of(TEXT, st.lists(st.sampled_from(["AND", "OR", "NOT", "NEAR/3", "NEAR/2f", "(", ")", '"', "acme",
                                                 "author:x", "lang:en", "a*", "*", ":", "NEAR/", "source:\"a b\""]),
                                max_size=40).map(" ".join)))
def test_query_parser_parses_or_reports_syntax(query: str) -> None:
    try:
        node = parse(query)
    except QuerySyntaxError as exc:
        assert exc.args
        return
    assert parse(to_string(node)) == node  # what it prints, it reads back


def test_deeply_nested_query_is_a_syntax_error_not_a_recursion_crash() -> None:
    for q in ("(" * 5000 + "a" + ")" * 5000, "NOT " * 5000 + "a"):
        try:
            parse(q)
        except QuerySyntaxError:
            continue
        raise AssertionError("expected a depth error")
