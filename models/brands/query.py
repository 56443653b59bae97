"""Boolean brand-query language: AST, recursive-descent parser and printer.

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
patterns. Every syntax problem raises :class:`QuerySyntaxError` with a 1-based column. The
lexer is :mod:`models.brands.query_lexer`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from models.brands.query_lexer import (
    KEYWORDS,
    SPECIAL,
    FieldName,
    QuerySyntaxError,
    Tok,
    is_field_name,
    lex,
)

__all__ = ["And", "Field", "Near", "Node", "Not", "Or", "QuerySyntaxError", "Term", "has_anchor", "is_span_node",
           "iter_terms", "parse", "to_string"]

MAX_DEPTH = 50


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


# --------------------------------------------------------------------------- parser

_STARTS_UNARY = {"WORD", "PHRASE", "FIELD", "LP", "NOT"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = lex(text)
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
    def cur(self) -> Tok:
        return self.toks[self.pos]

    def _take(self) -> Tok:
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
        or any(c in SPECIAL or c == ":" or c.isspace() for c in text)
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
