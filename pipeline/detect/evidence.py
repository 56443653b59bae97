"""Terms that set a spike apart from its brand's usual talk (pure; no storage, no Faust).

Weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008): for each
term, the log-odds of appearing in a spike post minus the log-odds of appearing in a baseline
post, shrunk towards the pooled rate and divided by its standard error. Counts are documents
(a term counts once per post), so one long or repeated post cannot carry a term alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from functools import lru_cache

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@\w[\w.@-]*")
MIN_Z = 1.96
"""A term is shown only when it is over-represented at the usual 5 % two-sided level."""


@lru_cache(maxsize=1)
def _analyzer() -> Callable[[str], list[str]]:
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(stop_words="english", lowercase=True,
                           token_pattern=r"(?u)#?\b[^\W\d_][\w']+\b").build_analyzer()


def _doc_terms(texts: Sequence[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    analyze = _analyzer()
    for text in texts:
        cleaned = _MENTION.sub(" ", _URL.sub(" ", text))
        counts.update({t.strip("'") for t in analyze(cleaned) if t.strip("'") not in ("amp", "rt", "")})
    return counts


def distinctive_terms(spike: Sequence[str], baseline: Sequence[str], k: int = 8,
                      exclude: Sequence[str] = ()) -> list[str]:
    """Up to ``k`` terms most over-represented in ``spike`` posts against ``baseline`` posts
    (z >= :data:`MIN_Z`, at least two spike posts each), strongest first; ``exclude`` (e.g. the
    brand's own name) is left out."""
    if not spike:
        return []
    a, b = _doc_terms(spike), _doc_terms(baseline)
    pooled = a + b
    n_a, n_b, n_all = len(spike), len(baseline), len(spike) + len(baseline)
    prior_total = 10.0  # a weak prior: 10 pseudo-documents spread by the pooled term rates
    skip = {e.lower() for e in exclude}
    scored = []
    for term, ya in a.items():
        if ya < 2 or term in skip or pooled[term] >= n_all:  # in every post: sets nothing apart
            continue
        alpha = prior_total * pooled[term] / n_all
        yb = b.get(term, 0)
        la = math.log((ya + alpha) / (n_a + prior_total - ya - alpha))
        lb = math.log((yb + alpha) / (n_b + prior_total - yb - alpha))
        z = (la - lb) / math.sqrt(1 / (ya + alpha) + 1 / (yb + alpha))
        if z >= MIN_Z:
            scored.append((z, term))
    scored.sort(key=lambda x: (-x[0], x[1]))
    return [t for _, t in scored[:k]]
