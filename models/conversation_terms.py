"""Key terms of conversations by class-based TF-IDF (c-TF-IDF, as in BERTopic).

A term's score in a conversation is its frequency there, normalised by the conversation's
length, times ``log(1 + A / f_t)`` where ``A`` is the average number of terms per conversation
and ``f_t`` the term's count over all live conversations. Tokens come from scikit-learn's
``CountVectorizer`` analyzer with English stop words; URLs and @mentions are dropped first.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

__all__ = ["TermIndex"]

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")


class TermIndex:
    """Term counts over all live conversations (the ``f_t`` of c-TF-IDF); each conversation
    keeps its own counter, at most ``max_terms`` entries."""

    def __init__(self, max_terms: int) -> None:
        self.max_terms = max_terms
        self.doc_freq: Counter[str] = Counter()
        self._analyzer: Callable[[str], list[str]] | None = None

    def tokens(self, text: str) -> tuple[str, ...]:
        """The terms of one post (stop words, URLs, @mentions, ``amp`` and ``rt`` dropped)."""
        if self._analyzer is None:
            from sklearn.feature_extraction.text import CountVectorizer

            self._analyzer = CountVectorizer(
                stop_words="english", lowercase=True, token_pattern=r"(?u)#?\b[^\W\d_][\w']+\b",
            ).build_analyzer()
        cleaned = _MENTION.sub(" ", _URL.sub(" ", text))
        return tuple(t.strip("'") for t in self._analyzer(cleaned) if t.strip("'") not in ("amp", "rt"))

    def add(self, own: Counter[str], terms: Sequence[str] | Counter[str]) -> Counter[str]:
        """Count ``terms`` into a conversation's counter ``own``; returns it, pruned to its
        ``max_terms // 2`` most common terms when it grew past ``max_terms``."""
        counts = terms if isinstance(terms, Counter) else Counter(terms)
        own.update(counts)
        self.doc_freq.update(counts)
        if len(own) <= self.max_terms:
            return own
        keep = dict(own.most_common(self.max_terms // 2))
        self.remove(Counter({t: c for t, c in own.items() if t not in keep}))
        return Counter(keep)

    def remove(self, counts: Counter[str]) -> None:
        """Forget ``counts`` (a conversation dropped, or terms moved out of one)."""
        self.doc_freq.subtract(counts)
        for t in [t for t, _ in counts.items() if self.doc_freq[t] <= 0]:
            del self.doc_freq[t]

    def key_terms(self, own: Counter[str], n_conversations: int, top_k: int) -> list[str]:
        """The ``top_k`` terms of a conversation by c-TF-IDF, best first (ties alphabetical)."""
        total = sum(own.values())
        if total == 0:
            return []
        avg = sum(self.doc_freq.values()) / max(n_conversations, 1)
        scored = [(c / total * math.log(1.0 + avg / max(self.doc_freq.get(t, c), 1)), t) for t, c in own.items()]
        scored.sort(key=lambda p: (-p[0], p[1]))
        return [t for _, t in scored[:top_k]]
