"""spaCy brand matcher: every surface form, context term and query term is compiled once into
a ``PhraseMatcher`` (literal phrases, attr ``NORM``) or a token ``Matcher`` (phrases with a
trailing-wildcard word); a small boolean evaluator then applies context gates and queries.

Tokenizer and normalisation: :mod:`models.brands.tokenizer`; query evaluation on a post:
:mod:`models.brands.query_eval`.

Not thread-safe (spaCy's vocabulary grows as it sees new words): use one instance per thread,
e.g. from a single-threaded executor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from models.base import BrandHit, PostInput
from models.brands.query_eval import PostState, Span, evaluate, trigger_terms
from models.brands.tags import TAG, TagIndex
from models.brands.tokenizer import fold, make_nlp, norm, vocab_hooks
from pipeline.core.brand_query import Node, iter_terms
from pipeline.core.brands import BrandConfig, tag_form

if TYPE_CHECKING:
    from spacy.tokens import Doc

RULE_PRIORITY: dict[str, int] = {
    "handle": 0,
    "hashtag": 1,
    "name": 2,
    "alias": 3,
    "misspelling": 4,
    "query": 5,
}
_WORD_RUN = re.compile(r"\w{2,}")


@dataclass
class _BrandRules:
    config: BrandConfig
    surface: list[tuple[int, str]]  # (pattern index, rule)
    gated: frozenset[str]
    context: list[int]
    query: Node | None
    term_index: dict[str, int]
    triggers: frozenset[int]  # patterns of which one must match for the query to be true
    always_eval: bool  # the query can match without any term (author: filter): always evaluated
    wild_context: bool  # some context term has a wildcard
    wild_query: bool  # some query term has a wildcard


def anchor_needles(users: Sequence[Sequence[int]], keys_of: Sequence[tuple[str, ...]]) -> re.Pattern[str] | None:
    """A regex that finds, in a post's :func:`fold`-ed text, a word every anchor pattern needs
    (its longest word run). A post with no hit can touch no brand, so it skips the spaCy
    tokenizer, the costliest step on a firehose. ``None`` when an anchor has no such word
    (every post is then tokenized). ``users[i]``: brands pattern ``i`` anchors; ``keys_of[i]``: its token norms."""
    needles: set[str] = set()
    for pidx, brands in enumerate(users):
        if not brands:
            continue
        runs = [r for n in keys_of[pidx] for r in _WORD_RUN.findall(n)]
        if not runs:
            return None
        needles.add(max(runs, key=len))
    if not needles:
        return None
    return re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))


def longest_spans(brand_id: str, cands: Iterable[tuple[int, int, str]], doc: Doc, text: str) -> list[BrandHit]:
    """One hit per non-overlapping candidate span ``(token start, end, rule)``: longest first,
    then by :data:`RULE_PRIORITY`, then leftmost. Offsets are characters of ``text`` (== ``doc.text``)."""
    hits: list[BrandHit] = []
    taken: list[Span] = []
    for s, e, rule in sorted(set(cands), key=lambda c: (c[0] - c[1], RULE_PRIORITY[c[2]], c[0])):
        if any(s < te and ts < e for ts, te in taken):
            continue
        taken.append((s, e))
        start = doc[s].idx
        end = doc[e - 1].idx + len(doc[e - 1].text)
        hits.append(BrandHit(brand_id, text[start:end], start, end, rule))
    return hits


class SpacyBrandMatcher:
    """Implements :class:`models.base.BrandMatcher` for a list of :class:`BrandConfig`."""

    name = "spacy"

    def __init__(
        self, brands: Sequence[BrandConfig], *, batch_size: int = 512, max_strings: int = 2_000_000
    ) -> None:
        """Compile ``brands``; ``max_strings`` bounds vocabulary growth (rebuilt when exceeded)."""
        ids = [b.id for b in brands]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate brand ids in {ids}")
        self.brands: list[BrandConfig] = list(brands)
        self.batch_size = batch_size
        self.max_strings = max_strings
        self._compile()

    # ------------------------------------------------------------------ compile
    def _compile(self) -> None:
        from spacy.attrs import NORM
        from spacy.matcher import Matcher, PhraseMatcher

        self._norm_attr = NORM
        self._nlp = make_nlp()
        self._phrase = PhraseMatcher(self._nlp.vocab, attr="NORM")
        self._token = Matcher(self._nlp.vocab, validate=False)  # lexeme-flag keys are ints
        self._n_token_patterns = 0
        self._prefix_flags: dict[str, int] = {}
        self._keys: dict[str, int] = {}  # pattern key -> pattern index
        self._by_hash: dict[int, int] = {}  # spaCy match id -> pattern index
        # pattern index -> (norm, is_prefix) tokens of a wildcard pattern, None if literal
        self._wild: list[tuple[tuple[str, bool], ...] | None] = []
        self._tags = TagIndex(norm)  # names, aliases, misspellings inside compound tags
        self._keys_of: list[tuple[str, ...]] = []  # pattern index -> its token norms
        self._users: list[list[int]] = []  # pattern index -> brands it can trigger (anchors only)
        self._rules = [self._compile_brand(i, b) for i, b in enumerate(self.brands)]
        self._always = [i for i, r in enumerate(self._rules) if r.always_eval]
        # Wildcard anchors decide on their own whether a brand is touched; the token Matcher
        # runs for them only on posts holding one of their literal words or a prefixed word.
        # A guard is a literal word of the phrase, itself compiled as a PhraseMatcher pattern.
        guards: set[int] = set()  # pattern indexes
        prefixes: set[str] = set()
        for pidx, toks in enumerate(list(self._wild)):
            if toks is None or not self._users[pidx]:
                continue
            literal = [n for n, p in toks if not p and n != "-"]
            guard = self._pattern(literal[0], wildcards=False) if literal else None
            if guard is not None and self._keys_of[guard] == (literal[0],):
                guards.add(guard)
            else:
                prefixes.update(n for n, p in toks if p)
        self._anchor_guards = frozenset(guards)
        self._anchor_prefixes = tuple(sorted(prefixes))
        self._has_anchor_wild = bool(self._anchor_guards or self._anchor_prefixes)
        self._prefix_cache: dict[int, bool] = {}  # NORM hash -> starts with an anchor prefix
        self._initial_strings = len(self._nlp.vocab.strings)
        self._needles = None if self._always else anchor_needles(self._users, self._keys_of)

    def _pattern(self, text: str, wildcards: bool) -> int:
        """Index of the (shared) compiled pattern for ``text``."""
        words = text.split()
        toks: list[tuple[str, bool]] = []  # (norm, is_prefix)
        for word in words:
            prefix = wildcards and word.endswith("*") and len(word) > 1
            doc = self._nlp.make_doc(word[:-1] if prefix else word)
            norms = [t.norm_ for t in doc]
            toks += [(n, prefix and j == len(norms) - 1) for j, n in enumerate(norms)]
        if not toks:
            raise ValueError(f"pattern {text!r} has no tokens")
        is_token = any(p for _, p in toks)
        key = ("W" if is_token else "P") + "\x1f".join(n + ("*" if p else "") for n, p in toks)
        idx = self._keys.get(key)
        if idx is None:
            idx = len(self._users)
            self._keys[key] = idx
            self._users.append([])
            self._wild.append(tuple(toks) if is_token else None)
            self._keys_of.append(tuple(n for n, _ in toks))
            self._by_hash[self._nlp.vocab.strings.add(key)] = idx
            # Multi-word forms also match hyphenated ("Nimbus-Air"): the spaCy tokenizer splits
            # the hyphen into its own token.
            if is_token:
                spec: list[dict[str | int, object]] = []
                for j, (n, p) in enumerate(toks):
                    if j and n != "-" and toks[j - 1][0] != "-":
                        spec.append({"ORTH": "-", "OP": "?"})
                    spec.append(self._prefix_spec(n) if p else {"NORM": n})
                # spaCy takes lexeme-flag ids as keys too; its stub says str
                self._token.add(key, cast("list[list[dict[str, Any]]]", [spec]))
                self._n_token_patterns += 1
            else:
                docs = [self._nlp.make_doc(" ".join(words))]
                if len(words) > 1:
                    docs.append(self._nlp.make_doc(" - ".join(words)))
                self._phrase.add(key, docs)
        return idx

    def _prefix_spec(self, prefix: str) -> dict[str | int, object]:
        """Token spec for "NORM starts with ``prefix``": a lexeme flag computed once per word
        (fast), or a REGEX predicate once spaCy's 63 flag bits are used up."""
        flag = self._prefix_flags.get(prefix)
        if flag is None:
            vocab = vocab_hooks(self._nlp)
            free = [b for b in range(1, 64) if b not in vocab.lex_attr_getters]
            if not free:
                return {"NORM": {"REGEX": "^" + re.escape(prefix)}}

            def starts(word: str, p: str = prefix) -> bool:
                return norm(word).startswith(p)

            flag = vocab.add_flag(starts, free[0])
            self._prefix_flags[prefix] = flag
        return {flag: True}

    def _compile_brand(self, i: int, b: BrandConfig) -> _BrandRules:
        forms = b.surface_forms()
        # A name, alias or misspelling also matches as a hashtag or handle with its spaces removed
        # ("Windows Phone" -> #windowsphone, @windowsphone).
        forms += [
            (tag, rule)
            for text, rule in forms
            if rule in ("name", "alias", "misspelling")
            for sign in "#@"
            if TAG.fullmatch(tag := tag_form(sign, text))
        ]
        surface = [(self._pattern(text, wildcards=False), rule) for text, rule in forms]
        for pidx, rule in surface:
            if rule in ("name", "alias", "misspelling"):
                self._tags.add(self._keys_of[pidx], pidx)
        context = [self._pattern(t, wildcards=True) for t in b.context]
        ast = b.parsed_query
        term_index: dict[str, int] = {}
        triggers: frozenset[int] = frozenset()
        always = False
        if ast is not None:
            for term in iter_terms(ast):
                if term.text not in term_index:
                    term_index[term.text] = self._pattern(term.text, wildcards=True)
            needed = trigger_terms(ast)
            always = needed is None
            triggers = frozenset(term_index[t] for t in needed or ())
        anchors = {p for p, _ in surface} | triggers
        for pidx in anchors:
            if i not in self._users[pidx]:
                self._users[pidx].append(i)
        return _BrandRules(
            config=b,
            surface=surface,
            gated=frozenset(b.context_applies_to) if b.context else frozenset(),
            context=context,
            query=ast,
            term_index=term_index,
            triggers=triggers,
            always_eval=always,
            wild_context=any(self._wild[p] is not None for p in context),
            wild_query=any(self._wild[p] is not None for p in term_index.values()),
        )

    # ------------------------------------------------------------------ match
    def match(self, posts: Sequence[PostInput]) -> list[list[BrandHit]]:
        """Brand hits of each post, sorted by position; one hit per brand span (longest wins)."""
        texts = [p.text or "" for p in posts]
        needles = self._needles
        todo = [i for i, t in enumerate(texts) if needles is None or needles.search(fold(t))]
        out: list[list[BrandHit]] = [[] for _ in texts]
        docs = self._nlp.pipe([texts[i] for i in todo], batch_size=self.batch_size)
        for i, doc in zip(todo, docs, strict=True):
            out[i] = self._match_doc(doc, posts[i])
        if len(self._nlp.vocab.strings) - self._initial_strings > self.max_strings:
            self._compile()
        return out

    def match_texts(self, texts: Iterable[str]) -> list[list[BrandHit]]:
        """Convenience: :meth:`match` on bare texts (field filters see empty metadata)."""
        return self.match([PostInput(text=t) for t in texts])

    def _match_doc(self, doc: Doc, post: PostInput) -> list[BrandHit]:
        found: dict[int, list[Span]] = {}
        by_hash = self._by_hash
        for mid, s, e in self._phrase(doc):
            found.setdefault(by_hash[mid], []).append((s, e))
        users = self._users
        touched: set[int] = set(self._always)
        for pidx in found:
            touched.update(users[pidx])
        in_tags: dict[int, list[Span]] = {}
        for pidx, chars in self._tags.find(doc.text).items():
            for start, end in chars:
                span = doc.char_span(start, end)  # None inside a longer token (x@apple.com)
                if span is not None:
                    in_tags.setdefault(pidx, []).append((span.start, span.end))
                    touched.update(users[pidx])
        state = PostState(doc, post, found)
        if self._has_anchor_wild and self._may_wild(doc, found):
            self._run_token_matcher(state)
            for pidx in found:
                touched.update(users[pidx])
        if not touched:
            return []
        hits: list[BrandHit] = []
        for bi in sorted(touched):
            hits.extend(self._brand_hits(self._rules[bi], state, in_tags))
        hits.sort(key=lambda h: (h.start, h.end, h.brand_id))
        return hits

    def _run_token_matcher(self, st: PostState) -> None:
        """Add the wildcard-pattern matches of ``st.doc`` to ``st.found`` (once per post)."""
        if st.wild_done or not self._n_token_patterns:
            return
        st.wild_done = True
        by_hash = self._by_hash
        for mid, s, e in self._token(st.doc):
            st.found.setdefault(by_hash[mid], []).append((s, e))

    def _may_wild(self, doc: Doc, found: dict[int, list[Span]]) -> bool:
        """Cheap pre-check: can any wildcard pattern match ``doc``? (the token Matcher is the
        slowest step, so it runs only on posts holding a guard word or a prefixed word)."""
        if not self._anchor_guards.isdisjoint(found):
            return True
        if not self._anchor_prefixes:
            return False
        norms = set(doc.to_array(self._norm_attr).tolist())
        cache, strings = self._prefix_cache, self._nlp.vocab.strings
        for h in norms:
            hit = cache.get(h)
            if hit is None:
                hit = cache[h] = strings[h].startswith(self._anchor_prefixes)
            if hit:
                return True
        return False

    def _brand_hits(self, r: _BrandRules, st: PostState, in_tags: dict[int, list[Span]]) -> list[BrandHit]:
        found = st.found
        cands: list[tuple[int, int, str]] = []  # token start, end, rule
        gated: list[tuple[int, int, str]] = []
        for pidx, rule in r.surface:
            spans = found.get(pidx)
            if pidx in in_tags:  # rare: a form inside a compound tag
                spans = (spans or []) + in_tags[pidx]
            if spans:
                (gated if rule in r.gated else cands).extend((s, e, rule) for s, e in spans)
        if gated and not cands:
            if r.wild_context and not any(p in found for p in r.context):
                self._run_token_matcher(st)  # context may need a wildcard term
            if any(p in found for p in r.context):
                cands.extend(gated)
        elif gated:
            cands.extend(gated)
        query_zero_width = False
        if r.query is not None and (r.always_eval or not r.triggers.isdisjoint(found)):
            if r.wild_query:
                self._run_token_matcher(st)
            ok, evidence = evaluate(r.query, r.term_index, st)
            if ok:
                cands.extend((s, e, "query") for s, e in evidence)
                query_zero_width = not evidence
        # post.text == doc.text (the tokenizer is non-destructive), without re-joining
        hits = longest_spans(r.config.id, cands, st.doc, st.post.text)
        if not hits and query_zero_width:
            hits.append(BrandHit(r.config.id, "", 0, 0, "query"))
        return hits

    def __repr__(self) -> str:
        return f"SpacyBrandMatcher({len(self.brands)} brands, {len(self._users)} patterns)"
