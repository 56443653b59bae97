"""Lexer of the boolean brand-query language (grammar in :mod:`models.brands.query`).

Turns a query string into tokens, checking words, phrases, ``NEAR/n`` operators and
``field:value`` filters on the way; every problem raises :class:`QuerySyntaxError` with a
1-based column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeGuard

__all__ = ["FIELDS", "KEYWORDS", "MAX_NEAR", "SPECIAL", "FieldName", "QuerySyntaxError", "Tok", "is_field_name",
           "lex"]

FIELDS: tuple[str, ...] = ("author", "lang", "source")
FieldName = Literal["author", "lang", "source"]
KEYWORDS: frozenset[str] = frozenset({"AND", "OR", "NOT", "NEAR"})
MAX_NEAR = 1000
SPECIAL = frozenset('()"')
"""Characters that end a bare word."""
_NEAR_RE = re.compile(r"NEAR/(\d{1,6})(f?)")


class QuerySyntaxError(ValueError):
    """A query that does not parse; ``column`` is 1-based (0 when not tied to a position)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


def is_field_name(name: str) -> TypeGuard[FieldName]:
    """True for the names of :data:`FIELDS`."""
    return name in FIELDS


@dataclass(frozen=True)
class Tok:
    """One token; ``text`` is the word, phrase or field name, ``value`` a field's value."""

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


def lex(q: str) -> list[Tok]:
    """The tokens of ``q``, ending with an ``END`` token."""
    toks: list[Tok] = []
    i, n = 0, len(q)
    while i < n:
        ch = q[i]
        col = i + 1
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            toks.append(Tok("LP" if ch == "(" else "RP", col, ch))
            i += 1
            continue
        if ch == '"':
            raw, i = _read_quoted(q, i)
            toks.append(Tok("PHRASE", col, _check_phrase(raw, col)))
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in SPECIAL:
            j += 1
        word = q[i:j]
        i = j
        if word in ("AND", "OR", "NOT"):
            toks.append(Tok(word, col, word))
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
            toks.append(Tok("NEAR", col, word, distance=dist, ordered=bool(m.group(2))))
            continue
        if ":" in word:
            name, value = word.split(":", 1)
            if not is_field_name(name):
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
            toks.append(Tok("FIELD", col, name, value=value))
            continue
        _check_word(word, col)
        toks.append(Tok("WORD", col, word))
    toks.append(Tok("END", n + 1))
    return toks
