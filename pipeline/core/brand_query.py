"""Boolean brand-query language: lexer, recursive-descent parser, AST and printer.

Grammar (operators are UPPER CASE; lower-case ``and``/``or``/``not`` are ordinary words)::

    query    := or_expr END
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := unary (["AND"] unary)*          # adjacent terms are an implicit AND
    unary    := "NOT" unary | near
    near     := primary ("NEAR/n" primary | "NEAR/nf" primary)*   # left-associative
    primary  := "(" or_expr ")" | WORD | "quoted phrase" | FIELD ":" VALUE

Precedence, tightest first: ``NEAR``, ``NOT``, ``AND`` (explicit or implicit), ``OR``.
``a NOT b`` is therefore ``a AND (NOT b)``. A word may end with ``*`` (prefix wildcard, at
least two characters before it); quoted phrases may contain wildcard words too.
``NEAR/n`` matches when at most ``n`` words separate the two sides (either order);
``NEAR/nf`` additionally requires the left side first. NEAR operands must be terms, phrases,
OR-groups of them or other NEAR expressions. Fields: ``author:``, ``lang:``, ``source:``;
their value is a word or a quoted string and may end with ``*``. A bare word containing ``:``
is always read as a field, so quote a literal term such as ``"re:invent"``.

This module is pure Python (no spaCy); the matcher compiles the AST's terms into spaCy
patterns. Every syntax problem raises :class:`QuerySyntaxError` with a 1-based column.

Why one module of ~410 lines: it is one small language (grammar above, AST, lexer, parser,
printer) whose parts change together; the printer must round-trip what the lexer accepts
(``parse(to_string(ast)) == ast``), and split files would scatter that grammar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeGuard

FIELDS: tuple[str, ...] = ("author", "lang", "source")
FieldName = Literal["author", "lang", "source"]
KEYWORDS: frozenset[str] = frozenset({"AND", "OR", "NOT", "NEAR"})
MAX_NEAR = 1000
MAX_DEPTH = 50
_SPECIAL = set('()"')
_NEAR_RE = re.compile(r"NEAR/(\d{1,6})(f?)")


def is_field_name(name: str) -> TypeGuard[FieldName]:
    """True for the names of :data:`FIELDS`."""
    return name in FIELDS


class QuerySyntaxError(ValueError):
    """A query that does not parse; ``column`` is 1-based (0 when not tied to a position)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Term:
    """A word or phrase: words separated by single spaces; a word ending in ``*`` is a prefix."""

    text: str

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.text.split(" "))


@dataclass(frozen=True)
class Field:
    """A post-level filter such as ``lang:en``; ``value`` may end with ``*`` (prefix)."""

    name: FieldName
    value: str


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Near:
    """``left NEAR/distance right``; ``ordered`` is the ``f`` (left first) variant."""

    left: Node
    right: Node
    distance: int
    ordered: bool = False


Node = Term | Field | Not | And | Or | Near


def is_span_node(node: Node) -> bool:
    """True for nodes that produce text spans (allowed as NEAR operands)."""
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Or):
        return all(is_span_node(c) for c in node.children)
    return False


def iter_terms(node: Node) -> Iterator[Term]:
    """Every :class:`Term` in ``node``, depth first."""
    if isinstance(node, Term):
        yield node
    elif isinstance(node, Not):
        yield from iter_terms(node.child)
    elif isinstance(node, And | Or):
        for c in node.children:
            yield from iter_terms(c)
    elif isinstance(node, Near):
        yield from iter_terms(node.left)
        yield from iter_terms(node.right)


def has_anchor(node: Node) -> bool:
    """True when every way of satisfying ``node`` needs a term match or an ``author:`` filter.

    Queries without an anchor (``NOT x``, ``lang:en``, ``a OR NOT b``) would match almost
    every post; the config loader rejects them.
    """
    if isinstance(node, Term | Near):
        return True
    if isinstance(node, Field):
        return node.name == "author"
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(has_anchor(c) for c in node.children)
    return all(has_anchor(c) for c in node.children)


# --------------------------------------------------------------------------- lexer


@dataclass(frozen=True)
class _Tok:
    kind: str  # LP RP WORD PHRASE FIELD AND OR NOT NEAR END
    col: int
    text: str = ""
    value: str = ""  # field value
    distance: int = 0
    ordered: bool = False

    def describe(self) -> str:
        if self.kind == "END":
            return "end of query"
        if self.kind in ("LP", "RP"):
            return f"'{self.text}'"
        if self.kind in ("AND", "OR", "NOT", "NEAR"):
            return self.text
        if self.kind == "PHRASE":
            return f'"{self.text}"'
        return f"'{self.text}'"


def _check_word(word: str, col: int) -> None:
    star = word.find("*")
    if star == -1:
        return
    if star != len(word) - 1:
        raise QuerySyntaxError(
            f"wildcard '*' is only allowed at the end of a word at column {col + star}, found {word!r}",
            col + star,
        )
    if len(word.lstrip("#@")) < 3:
        raise QuerySyntaxError(
            f"wildcard needs at least 2 characters before '*' at column {col}, found {word!r}", col
        )


def _check_phrase(text: str, col: int) -> str:
    words = text.split()
    if not words:
        raise QuerySyntaxError(f"empty phrase at column {col}", col)
    for w in words:
        _check_word(w, col)
    return " ".join(words)


def _read_quoted(q: str, i: int) -> tuple[str, int]:
    """``q[i] == '"'``; return the raw contents and the index after the closing quote."""
    end = q.find('"', i + 1)
    if end == -1:
        raise QuerySyntaxError(
            f"unterminated quote starting at column {i + 1}, expected '\"'", i + 1
        )
    return q[i + 1 : end], end + 1


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        ch = q[i]
        col = i + 1
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            toks.append(_Tok("LP" if ch == "(" else "RP", col, ch))
            i += 1
            continue
        if ch == '"':
            raw, i = _read_quoted(q, i)
            toks.append(_Tok("PHRASE", col, _check_phrase(raw, col)))
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in _SPECIAL:
            j += 1
        word = q[i:j]
        i = j
        if word in ("AND", "OR", "NOT"):
            toks.append(_Tok(word, col, word))
            continue
        if word == "NEAR" or word.startswith("NEAR/"):
            m = _NEAR_RE.fullmatch(word)
            if not m:
                raise QuerySyntaxError(
                    f"expected NEAR/<n> or NEAR/<n>f at column {col}, found {word!r}", col
                )
            dist = int(m.group(1))
            if dist > MAX_NEAR:
                raise QuerySyntaxError(
                    f"NEAR distance must be between 0 and {MAX_NEAR} at column {col}, found {dist}",
                    col,
                )
            toks.append(_Tok("NEAR", col, word, distance=dist, ordered=bool(m.group(2))))
            continue
        if ":" in word:
            name, value = word.split(":", 1)
            if name not in FIELDS:
                raise QuerySyntaxError(
                    f"unknown field {name + ':'!r} at column {col}, expected one of "
                    f"{', '.join(f + ':' for f in FIELDS)} (quote a term that contains ':')",
                    col,
                )
            if not value and i < n and q[i] == '"':
                raw, i = _read_quoted(q, i)
                value = " ".join(raw.split())
            if not value:
                raise QuerySyntaxError(
                    f"expected a value after '{name}:' at column {col + len(name) + 1}", col
                )
            if "*" in value[:-1] or value == "*":
                raise QuerySyntaxError(
                    f"wildcard '*' is only allowed at the end of a field value at column {col}", col
                )
            toks.append(_Tok("FIELD", col, name, value=value))
            continue
        _check_word(word, col)
        toks.append(_Tok("WORD", col, word))
    toks.append(_Tok("END", n + 1))
    return toks


# --------------------------------------------------------------------------- parser

_STARTS_UNARY = {"WORD", "PHRASE", "FIELD", "LP", "NOT"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.pos = 0
        self.depth = 0

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(
                f"query nested deeper than {MAX_DEPTH} levels at column {self.cur.col}",
                self.cur.col,
            )

    @property
    def cur(self) -> _Tok:
        return self.toks[self.pos]

    def _take(self) -> _Tok:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def parse(self) -> Node:
        node = self._or()
        if self.cur.kind != "END":  # only an unbalanced ')' can stop the OR loop early
            raise self._error("end of query (unbalanced ')')")
        return node

    def _error(self, expected: str) -> QuerySyntaxError:
        tok = self.cur
        return QuerySyntaxError(
            f"expected {expected} at column {tok.col}, found {tok.describe()}", tok.col
        )

    def _or(self) -> Node:
        parts = [self._and()]
        while self.cur.kind == "OR":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> Node:
        parts = [self._unary()]
        while True:
            if self.cur.kind == "AND":
                self._take()
                parts.append(self._unary())
            elif self.cur.kind in _STARTS_UNARY:
                parts.append(self._unary())
            else:
                break
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _unary(self) -> Node:
        if self.cur.kind == "NOT":
            self._take()
            self._enter()
            node = Not(self._unary())
            self.depth -= 1
            return node
        return self._near()

    def _near(self) -> Node:
        left = self._primary()
        while self.cur.kind == "NEAR":
            op = self._take()
            right = self._primary()
            for side, operand in (("left", left), ("right", right)):
                if not is_span_node(operand):
                    raise QuerySyntaxError(
                        f"{op.text} at column {op.col} needs terms, phrases or OR-groups of them on "
                        f"the {side} side, found {_kind(operand)}",
                        op.col,
                    )
            left = Near(left, right, op.distance, op.ordered)
        return left

    def _primary(self) -> Node:
        tok = self.cur
        if tok.kind == "LP":
            self._take()
            self._enter()
            node = self._or()
            self.depth -= 1
            if self.cur.kind != "RP":
                raise self._error(f"')' to close '(' from column {tok.col}")
            self._take()
            return node
        if tok.kind in ("WORD", "PHRASE"):
            self._take()
            return Term(tok.text)
        if tok.kind == "FIELD" and is_field_name(tok.text):  # the lexer emits FIELD only for FIELDS
            self._take()
            return Field(tok.text, tok.value)
        raise self._error("term or '('")


def _kind(node: Node) -> str:
    return {Field: "a field filter", Not: "NOT", And: "AND"}.get(
        type(node), "an OR-group with AND/NOT/fields"
    )


def parse(text: str) -> Node:
    """Parse ``text`` into an AST; raise :class:`QuerySyntaxError` naming the column on failure."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------- printer


def _needs_quotes(text: str) -> bool:
    return (
        " " in text
        or any(c in _SPECIAL or c == ":" or c.isspace() for c in text)
        or text in KEYWORDS
        or text.startswith("NEAR/")
    )


def _value(text: str) -> str:
    return f'"{text}"' if _needs_quotes(text) or text == "" else text


def to_string(node: Node) -> str:
    """Canonical text of ``node``; ``parse(to_string(ast)) == ast`` for every parseable AST."""
    if isinstance(node, Term):
        return _value(node.text)
    if isinstance(node, Field):
        return f"{node.name}:{_value(node.value)}"
    if isinstance(node, Not):
        return f"NOT {_wrap(node.child)}"
    if isinstance(node, And):
        return " AND ".join(_wrap(c) for c in node.children)
    if isinstance(node, Or):
        return " OR ".join(_wrap(c) for c in node.children)
    op = f"NEAR/{node.distance}{'f' if node.ordered else ''}"
    return f"{_wrap(node.left)} {op} {_wrap(node.right)}"


def _wrap(node: Node) -> str:
    s = to_string(node)
    return f"({s})" if isinstance(node, And | Or | Near) else s
