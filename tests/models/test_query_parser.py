"""Brand query language: parser, printer and error messages."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.brands.query import (
    FIELDS,
    And,
    Field,
    Near,
    Not,
    Or,
    QuerySyntaxError,
    Term,
    has_anchor,
    parse,
    to_string,
)


def test_precedence_near_binds_tightest_then_not_and_or() -> None:
    ast = parse("a OR b c NOT d NEAR/2 e")
    assert ast == Or((Term("a"), And((Term("b"), Term("c"), Not(Near(Term("d"), Term("e"), 2))))))


def test_phrases_wildcards_fields_and_ordered_near() -> None:
    ast = parse('"nimbus  air*" NEAR/3f (flight* OR gate) author:"Jane Doe" lang:en source:mast*')
    assert ast == And(
        (
            Near(Term("nimbus air*"), Or((Term("flight*"), Term("gate"))), 3, ordered=True),
            Field("author", "Jane Doe"),
            Field("lang", "en"),
            Field("source", "mast*"),
        )
    )


def test_lowercase_operators_are_plain_words() -> None:
    assert parse("apple and pie") == And((Term("apple"), Term("and"), Term("pie")))


def test_hashtags_and_handles_are_terms() -> None:
    assert parse("#nimbus OR @nimbusair") == Or((Term("#nimbus"), Term("@nimbusair")))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(nimbus OR sky) AND )", "expected term or '(' at column 21, found ')'"),
        (
            "nimbus AND (a OR b",
            "expected ')' to close '(' from column 12 at column 19, found end of query",
        ),
        ("a b)", "expected end of query (unbalanced ')') at column 4, found ')'"),
        ('"nimbus air', "unterminated quote starting at column 1"),
        ("a NEAR b", "expected NEAR/<n> or NEAR/<n>f at column 3, found 'NEAR'"),
        ("a NEAR/3 NOT b", "expected term or '(' at column 10, found NOT"),
        ("a NEAR/3 (b AND c)", "NEAR/3 at column 3 needs terms, phrases or OR-groups"),
        ("fo*o", "wildcard '*' is only allowed at the end of a word at column 3"),
        ("a*", "wildcard needs at least 2 characters before '*' at column 1"),
        ("foo:bar", "unknown field 'foo:' at column 1"),
        ("author: x", "expected a value after 'author:' at column 8"),
        ('""', "empty phrase at column 1"),
        ("", "expected term or '(' at column 1, found end of query"),
        ("OR a", "expected term or '(' at column 1, found OR"),
    ],
)
def test_errors_name_the_column_and_what_was_expected(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as err:
        parse(query)
    assert message in str(err.value)
    assert err.value.column >= 1


def test_deep_nesting_is_a_syntax_error_not_a_recursion_error() -> None:
    with pytest.raises(QuerySyntaxError, match="nested deeper"):
        parse("(" * 5000 + "a" + ")" * 5000)
    with pytest.raises(QuerySyntaxError, match="nested deeper"):
        parse("NOT " * 5000 + "a")


def test_anchor_rule() -> None:
    assert has_anchor(parse("a NOT b"))
    assert has_anchor(parse("author:nimbusair"))
    assert not has_anchor(parse("NOT a"))
    assert not has_anchor(parse("lang:en"))
    assert not has_anchor(parse("a OR NOT b"))


def test_printer_quotes_what_would_otherwise_be_syntax() -> None:
    ast = Or((Term("AND"), Term("re:invent"), Term("NEAR/2"), Term("a b")))
    assert to_string(ast) == '"AND" OR "re:invent" OR "NEAR/2" OR "a b"'
    assert parse(to_string(ast)) == ast


# ----------------------------------------------------------------- property tests

_word_chars = st.characters(
    blacklist_characters='"*', blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")
)


@st.composite
def _word(draw: st.DrawFn) -> str:
    w = draw(
        st.text(_word_chars, min_size=1, max_size=6).filter(
            lambda s: not any(c.isspace() for c in s)
        )
    )
    if len(w.lstrip("#@")) >= 2 and draw(st.booleans()):
        w += "*"
    return w


_terms = st.lists(_word(), min_size=1, max_size=3).map(lambda ws: Term(" ".join(ws)))
_fields = st.builds(
    Field,
    st.sampled_from(FIELDS),
    st.lists(st.text(_word_chars, min_size=1, max_size=5), min_size=1, max_size=2).map(" ".join),
)


def _span_nodes() -> st.SearchStrategy:
    return st.recursive(
        _terms,
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
            st.builds(Near, inner, inner, st.integers(0, 20), st.booleans()),
        ),
        max_leaves=6,
    )


_asts = st.recursive(
    st.one_of(_span_nodes(), _fields),
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: And(tuple(cs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs))),
    ),
    max_leaves=10,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_asts)
def test_print_then_parse_gives_the_same_ast(ast) -> None:  # type: ignore[no-untyped-def]
    assert parse(to_string(ast)) == ast


_soup = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "AND",
                "OR",
                "NOT",
                "(",
                ")",
                '"',
                "NEAR/3",
                "NEAR/0f",
                "NEAR",
                "NEAR/",
                "a",
                "bc*",
                "*",
                "author:",
                "lang:en",
                "source:x*",
                ":",
                "foo:bar",
                '"x y"',
                "#tag",
                "@who",
                "é",
            ]
        ),
        st.text(max_size=4),
    ),
    max_size=12,
).flatmap(lambda parts: st.just(parts).map(" ".join) | st.just(parts).map("".join))


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=40), _soup))
def test_parser_only_ever_raises_its_own_error(text: str) -> None:
    try:
        ast = parse(text)
    except QuerySyntaxError as exc:
        assert exc.column >= 0
        return
    assert parse(to_string(ast)) == ast
