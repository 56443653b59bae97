"""Tokenizer and normalisation of the brand matcher.

The tokenizer is ``spacy.blank("en")`` with small affix tweaks so ``@handle`` and ``#hashtag``
are single tokens (see :func:`make_nlp`), and the vocabulary's ``NORM`` getter is replaced by
:func:`fold` (case folding, NFKD, combining marks dropped, Latin letters transliterated with
Unidecode). Patterns and posts go through the same tokenizer, so they normalise identically.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, cast

from unidecode import unidecode

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["VocabHooks", "fold", "make_nlp", "norm", "vocab_hooks"]


class VocabHooks(Protocol):
    """The parts of spaCy's ``Vocab`` used here that its type stubs leave out."""

    lex_attr_getters: dict[int, Callable[[str], object]]

    def add_flag(self, flag_getter: Callable[[str], bool], flag_id: int = -1) -> int: ...


class _AffixHooks(Protocol):
    """The settable affix rules of spaCy's ``Tokenizer`` (a Cython class without stubs)."""

    prefix_search: Callable[[str], re.Match[str] | None]
    infix_finditer: Callable[[str], Iterator[re.Match[str]] | list[re.Match[str]]]


def vocab_hooks(nlp: Language) -> VocabHooks:
    """``nlp.vocab`` typed with the attributes spaCy's stubs omit."""
    return cast(VocabHooks, nlp.vocab)


@lru_cache(maxsize=65536)
def _fold_char(ch: str) -> str:
    if unicodedata.combining(ch):
        return ""
    if unicodedata.name(ch, "").startswith("LATIN"):
        return unidecode(ch).lower()
    return ch


def fold(text: str) -> str:
    """Case- and diacritics-insensitive form of ``text`` (``"Café"`` -> ``"cafe"``, ``"Øre"`` -> ``"ore"``).

    Non-Latin scripts keep their letters (only case and combining marks are folded), so
    ``"Москва"`` is not transliterated into a Latin word it could collide with.
    """
    s = unicodedata.normalize("NFKD", text.casefold())
    if s.isascii():
        return s
    out = "".join(c if c.isascii() else _fold_char(c) for c in s)
    return out or text.casefold()


def norm(text: str) -> str:
    """The NORM of a word: spaCy's base norms (curly quotes -> straight), else :func:`fold`."""
    from spacy.lang.norm_exceptions import BASE_NORMS

    return BASE_NORMS.get(text) or fold(text)


def make_nlp() -> Language:
    """A blank English tokenizer with ``@handle``/``#hashtag`` tokens and folded ``NORM``."""
    import spacy
    from spacy.attrs import NORM
    from spacy.util import compile_infix_regex, compile_prefix_regex

    nlp = spacy.blank("en")
    tokenizer = cast(_AffixHooks, nlp.tokenizer)
    vocab_hooks(nlp).lex_attr_getters[NORM] = norm
    for lex in nlp.vocab:  # lexemes created before the getter was replaced
        lex.norm_ = norm(lex.orth_)
    # '#' stays a prefix only when no word character follows, so '#google' is one token;
    # punctuation glued before a hashtag or handle ('.@apple') is split off.
    prefixes = [p for p in nlp.Defaults.prefixes or () if p != "#"] + [
        r"#(?!\w)",
        r"[.,;:!?…](?=[#@]\w)",
    ]
    tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    # '#a,#b', 'ショウケース@apple': a tag glued to punctuation or a non-ASCII letter starts a token.
    infixes = list(nlp.Defaults.infixes or ()) + [
        r"[,;!?.…](?=[#@]\w)",
        r"(?<=[^\x00-\x7f])(?=[#@]\w)",
    ]
    tokenizer.infix_finditer = _TagInfixes(compile_infix_regex(infixes).finditer)
    return nlp


_TAG_HEAD = re.compile(r"[#@]\w+(?=[^\w\s@])")
_NON_WORD = re.compile(r"[^\w\s]")


class _TagInfixes:
    """Infix finder that also ends a hashtag/handle at its first non-word character, as
    Twitter does: ``#google+`` -> ``#google`` ``+``, ``#Twitter'sDown`` -> ``#Twitter`` ``'`` ``sDown``."""

    def __init__(self, finditer: Callable[[str], Iterator[re.Match[str]]]) -> None:
        self.finditer = finditer

    def __call__(self, text: str) -> list[re.Match[str]]:
        matches = list(self.finditer(text))
        if text[:1] in "#@" and (head := _TAG_HEAD.match(text)):
            cut = _NON_WORD.match(text, head.end())
            if cut is not None:
                matches = [m for m in matches if m.end() <= cut.start() or m.start() >= cut.end()]
                matches.append(cut)
                matches.sort(key=lambda m: m.start())
        return matches
