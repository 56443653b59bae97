"""Evaluation of a brand's boolean query on one post, from the spans its terms matched."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from models.base import PostInput
from models.brands.tokenizer import fold
from pipeline.core.brand_query import And, Field, Near, Node, Not, Or, Term

if TYPE_CHECKING:
    from spacy.tokens import Doc

__all__ = ["MAX_NEAR_UNITS", "PostState", "Span", "evaluate", "trigger_terms"]

Span = tuple[int, int]  # token start, end (exclusive)
MAX_NEAR_UNITS = 200


@dataclass
class PostState:
    """One post being matched: its doc, metadata and the spans each pattern index matched."""

    doc: Doc
    post: PostInput
    found: dict[int, list[Span]]
    wild_done: bool = False  # token Matcher already run
    _words: list[int] | None = field(default=None)

    def words_before(self) -> list[int]:
        """``w[i]`` = number of non-punctuation tokens before token ``i`` (NEAR counts words)."""
        if self._words is None:
            w = [0]
            for tok in self.doc:
                w.append(w[-1] + (0 if tok.is_punct or tok.is_space else 1))
            self._words = w
        return self._words


def trigger_terms(node: Node) -> set[str] | None:
    """Term texts of which at least one must match for ``node`` to be true; None when the
    node can be true without any term (NOT, fields). Picks the cheapest side of AND/NEAR."""
    if isinstance(node, Term):
        return {node.text}
    if isinstance(node, Field | Not):
        return None
    if isinstance(node, Or):
        out: set[str] = set()
        for c in node.children:
            t = trigger_terms(c)
            if t is None:
                return None
            out |= t
        return out
    sides = [node.left, node.right] if isinstance(node, Near) else list(node.children)
    options = [t for t in (trigger_terms(c) for c in sides) if t is not None]
    if not options:
        return None
    return min(options, key=lambda t: (sum(w.endswith("*") for w in t), len(t)))


def _field_ok(node: Field, post: PostInput) -> bool:
    want = node.value
    prefix = want.endswith("*")
    if prefix:
        want = want[:-1]
    if node.name == "author":
        want = fold(want).lstrip("@")
        handle = fold(post.author_handle or "").lstrip("@")
        values = {handle, handle.split("@")[0], fold(post.author_id or "")} - {""}
    elif node.name == "lang":
        want = want.lower()
        lang = (post.lang or "").lower()
        values = {lang, lang.split("-")[0]} - {""}
    else:
        want = fold(want)
        values = {fold(post.source or "")} - {""}
    return any(v.startswith(want) for v in values) if prefix else want in values


def _units(node: Node, index: dict[str, int], st: PostState) -> list[tuple[int, int, list[Span]]]:
    """Span units ``(start, end, evidence)`` of a span node (Term, Or of span nodes, Near)."""
    if isinstance(node, Term):
        return [(s, e, [(s, e)]) for s, e in st.found.get(index[node.text], ())]
    if isinstance(node, Or):
        return [u for c in node.children for u in _units(c, index, st)]
    assert isinstance(node, Near)
    left = _units(node.left, index, st)
    if not left:
        return []
    right = _units(node.right, index, st)
    if not right:
        return []
    w = st.words_before()
    out = []
    for ls, le, lev in left:
        for rs, re_, rev in right:
            if le <= rs:
                gap = w[rs] - w[le]
            elif re_ <= ls and not node.ordered:
                gap = w[ls] - w[re_]
            else:
                continue  # overlapping, or wrong order for NEAR/nf
            if gap <= node.distance:
                out.append((min(ls, rs), max(le, re_), lev + rev))
                if len(out) >= MAX_NEAR_UNITS:  # long documents: enough evidence, stay linear
                    return out
    return out


def evaluate(node: Node, index: dict[str, int], st: PostState) -> tuple[bool, list[Span]]:
    """Truth of ``node`` for the post and the spans of its positive (non-negated) terms."""
    if isinstance(node, Term | Near):
        # A NEAR match is reported as one span covering both sides ("nimbus flight delayed").
        units = _units(node, index, st)
        return bool(units), [(s, e) for s, e, _ in units]
    if isinstance(node, Field):
        return _field_ok(node, st.post), []
    if isinstance(node, Not):
        ok, _ = evaluate(node.child, index, st)
        return not ok, []
    if isinstance(node, And):
        evidence: list[Span] = []
        for c in node.children:
            ok, ev = evaluate(c, index, st)
            if not ok:
                return False, []
            evidence += ev
        return True, evidence
    assert isinstance(node, Or)
    any_ok, evidence = False, []
    for c in node.children:
        ok, ev = evaluate(c, index, st)
        if ok:
            any_ok = True
            evidence += ev
    return any_ok, evidence
