"""Brand-targeted sentiment: the sentiment *toward each brand* of a post, not of the whole post.

The text is split into clauses at sentence ends and at contrastive / transition / comparison
cues (rule based, see :data:`CUES`), every clause is scored once by a sentence-level
``score_fn``, and each brand takes the sentiment of the clause(s) holding its mentions:

* **main clause** (no comparison cue): the brand gets the clause's sentiment, plus that of
  brand-less clauses attached to it (``"switched to B, so much better"``: ``"so much better"``
  has no brand and attaches to the most recent main clause of the same sentence, else the next
  one; across sentences only when the post mentions a single brand);
* **comparison clause** (``than B``, ``unlike B``, ``compared to/with B``, ``instead of B``,
  ``as opposed to B``, ``in contrast to B``): the brand gets the *inverse* of the main clause it is
  compared with (``"A is way better than B"`` -> A positive, B negative);
* **switch** (``switched/moved/went/migrated ... from A to B``, ``ditched/dumped/left A for
  B``, ``replaced A with B``): B is a main clause; A gets the inverse of B's sentiment. A neutral
  switch still reveals a preference: B gets +:data:`SWITCH_PRIOR`, A its inverse.

A brand mentioned only in a clause made of hashtags, handles and links (the tag list that
ends many posts) or only through a position-less hit (an ``author:`` query) gets the sentiment
of the whole post.

Several clauses for one brand are combined by the weighted mean of the signed scores of the
non-neutral ones (neutral filler does not dilute an opinion; a clause opening with a contrastive
cue such as ``but``/``however`` weighs :data:`CONTRAST_WEIGHT`); the
label is the scorer's own label when one clause decides, else the sign of the mean outside
``(-neutral_band, neutral_band)``. Clauses the scorer labels ``unsupported`` are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.base import BrandHit
from pipeline.core.schema import SentimentLabel

ScoreFn = Callable[[list[str]], list[tuple[SentimentLabel, float]]]
SWITCH_PRIOR = 0.3
CONTRAST_WEIGHT = 2.0
INVERSE_CUES = frozenset({"than", "compare", "switch_from"})

# cue kind -> regex (word-bounded, case-insensitive); the cue word opens the new clause.
CUES: dict[str, str] = {
    "contrast": r"\bbut\b|\bhowever\b|\balthough\b|\bthough\b|\bwhereas\b|\bnevertheless\b|"
    r"\bnonetheless\b|\bon the other hand\b|(?<=,)\s*\bwhile\b|\bthen again\b",
    "result": r"\bso\b|\btherefore\b|\bthus\b|\bhence\b|\bwhich is why\b",
    "than": r"\bthan\b",
    "compare": r"\bunlike\b|\bcompared (?:to|with)\b|\bin contrast to\b|\bas opposed to\b|\binstead of\b",
    "sep": r"\bvs\b\.?|\bversus\b|;",
}
_CUE_RE = re.compile("|".join(f"(?P<{k}>{v})" for k, v in CUES.items()), re.IGNORECASE)
_SWITCH_RE = re.compile(
    r"\b(?:switch|swap|mov(?:e|ed|ing)\b|migrat|went\b|go(?:ne|ing)?\b|chang|convert|jump|upgrad)\w*"
    r"(?:\W+\w+){0,4}?\W+(?P<src>from)\b.{1,80}?\b(?P<dst>to)\b",
    re.IGNORECASE,
)
_DITCH_RES = (
    re.compile(
        r"\b(?P<src>(?:ditch|dump|abandon|left|leav|quit)\w*)\b.{1,60}?\b(?P<dst>for)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\b(?P<src>replac\w*)\b.{1,60}?\b(?P<dst>with)\b", re.IGNORECASE),
)
_TAGS = re.compile(r"https?://\S+|[@#]\w+|\bRT\b", re.IGNORECASE)
_CONTENT = re.compile(r"[^\W\d_]")
_SENT_END = re.compile(r"[.!?…]+(?=\s|$)|\n+")


@dataclass(frozen=True)
class Clause:
    """A clause of the text: character span, the cue kind that opened it, sentence number."""

    start: int
    end: int
    cue: str  # "" (sentence start), contrast, result, than, compare, sep, switch_from, switch_to
    sentence: int


def _sentences(text: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        out.append((start, m.end()))
        start = m.end()
    out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def split_clauses(text: str) -> list[Clause]:
    """Split ``text`` into clauses (sentence boundaries, then cues inside each sentence)."""
    clauses: list[Clause] = []
    for si, (s, e) in enumerate(_sentences(text)):
        sent = text[s:e]
        cuts: dict[int, str] = {}
        for m in _CUE_RE.finditer(sent):
            kind = m.lastgroup or "sep"
            pos = m.start() + (len(m.group()) - len(m.group().lstrip()))
            cuts.setdefault(pos, kind)
        for rx in (_SWITCH_RE, *_DITCH_RES):
            for m in rx.finditer(sent):
                cuts[m.start("src")] = "switch_from"
                cuts[m.start("dst")] = "switch_to"
        for pos, kind in list(cuts.items()):
            # "Unlike A, B is ..." / "Compared to A, B ...": the comparison ends at the comma.
            comma = sent.find(",", pos)
            if kind == "compare" and comma != -1 and not any(pos < p <= comma for p in cuts):
                cuts[comma + 1] = ""
        bounds = sorted(p for p in cuts if p > 0)
        starts = [0, *bounds]
        kinds = [cuts.get(0, ""), *(cuts[p] for p in bounds)]
        ends = [*bounds, len(sent)]
        for cs, ce, kind in zip(starts, ends, kinds, strict=True):
            piece = sent[cs:ce]
            if not piece.strip(" \t\r\n,:-–—"):
                continue
            lead = len(piece) - len(piece.lstrip(" \t\r\n;,"))
            trail = len(piece.rstrip())
            clauses.append(Clause(s + cs + lead, s + cs + trail, kind, si))
    return clauses


_INVERSE: dict[SentimentLabel, SentimentLabel] = {"positive": "negative", "negative": "positive"}


def _inverse(label: SentimentLabel, score: float) -> tuple[SentimentLabel, float]:
    return _INVERSE.get(label, label), -score


def _combine(items: list[tuple[SentimentLabel, float, float]], band: float) -> tuple[SentimentLabel, float] | None:
    """Weighted combination of ``(label, score, weight)``; None when nothing is supported."""
    items = [it for it in items if it[0] != "unsupported"]
    if not items:
        return None
    opinionated = [it for it in items if it[0] != "neutral"]
    if not opinionated:  # only neutral clauses: neutral, with their mean score
        return "neutral", sum(s * w for _, s, w in items) / sum(w for _, _, w in items)
    items = opinionated  # neutral filler clauses do not dilute an opinion
    if len(items) == 1:
        return items[0][0], items[0][1]
    total = sum(w for _, _, w in items)
    score = sum(s * w for _, s, w in items) / total
    label: SentimentLabel = "positive" if score >= band else "negative" if score <= -band else "neutral"
    return label, score


@dataclass
class _Plan:
    clauses: list[Clause]
    brands_of: list[list[str]]  # per clause, brand ids mentioned there
    positionless: list[str]  # brands with no position (author: queries) or only in tag lists


def _plan(text: str, hits: Sequence[BrandHit]) -> _Plan:
    clauses = split_clauses(text)
    brands_of: list[list[str]] = [[] for _ in clauses]
    for h in hits:
        if h.end <= h.start:
            continue
        for i, c in enumerate(clauses):
            if c.start <= h.start < c.end or (h.start < c.start < h.end):
                if h.brand_id not in brands_of[i]:
                    brands_of[i].append(h.brand_id)
                break
    # A clause of only hashtags, handles and links ("... #android #google") tags the whole post.
    for i, c in enumerate(clauses):
        if brands_of[i] and not _CONTENT.search(_TAGS.sub(" ", text[c.start : c.end])):
            brands_of[i] = []
    in_text = {b for bs in brands_of for b in bs}
    positionless = sorted({h.brand_id for h in hits} - in_text)
    return _Plan(clauses, brands_of, positionless)


def _attribute(
    plan: _Plan, scores: list[tuple[SentimentLabel, float]], band: float
) -> dict[str, tuple[SentimentLabel, float]]:
    clauses, brands_of = plan.clauses, plan.brands_of
    n = len(clauses)
    weight = [CONTRAST_WEIGHT if c.cue == "contrast" else 1.0 for c in clauses]
    main = [i for i in range(n) if brands_of[i] and clauses[i].cue not in INVERSE_CUES]
    inverse = [i for i in range(n) if brands_of[i] and clauses[i].cue in INVERSE_CUES]
    single_brand = len({b for bs in brands_of for b in bs}) == 1

    # Reference clause of every comparison clause: the nearest non-comparison clause of the
    # same sentence, before it (than/unlike...) or after it (switch source); if there is none
    # the comparison clause is scored as a main clause.
    ref: dict[int, int] = {}
    for i in inverse:
        same = [
            j
            for j in range(n)
            if clauses[j].sentence == clauses[i].sentence and clauses[j].cue not in INVERSE_CUES
        ]
        before = [j for j in same if j < i]
        after = [j for j in same if j > i]
        if clauses[i].cue == "switch_from":
            cand = after[:1] or before[-1:]
        else:
            cand = before[-1:] or after[:1]
        if cand:
            ref[i] = cand[0]
        else:
            main.append(i)
    main.sort()

    # Groups: each main clause plus the brand-less clauses attached to it.
    members: dict[int, list[int]] = {j: [j] for j in main}
    for i in range(n):
        if brands_of[i] or not main:
            continue
        same = [j for j in main if clauses[j].sentence == clauses[i].sentence]
        pool = same or (main if single_brand else [])
        before = [j for j in pool if j < i]
        after = [j for j in pool if j > i]
        target = before[-1] if before else after[0] if after else None
        if target is not None:
            members[target].append(i)

    group: dict[int, tuple[SentimentLabel, float] | None] = {}
    for j, idxs in members.items():
        g = _combine([(scores[k][0], scores[k][1], weight[k]) for k in idxs], band)
        if g is not None and clauses[j].cue == "switch_to" and abs(g[1]) < band:
            g = ("positive", SWITCH_PRIOR)
        group[j] = g

    contrib: dict[str, list[tuple[SentimentLabel, float, float]]] = {}
    for j in main:
        g = group[j]
        if g is not None:
            for b in brands_of[j]:
                contrib.setdefault(b, []).append((g[0], g[1], weight[j]))
    for i, j in ref.items():
        g = group[j] if j in group else _combine([(scores[j][0], scores[j][1], weight[j])], band)
        if g is not None:
            lab, sc = _inverse(*g)
            for b in brands_of[i]:
                if b not in brands_of[j]:
                    contrib.setdefault(b, []).append((lab, sc, weight[i]))
    out: dict[str, tuple[SentimentLabel, float]] = {}
    for b, items in contrib.items():
        r = _combine(items, band)
        if r is not None:
            out[b] = r
    mentioned = {b for bs in brands_of for b in bs}
    whole = _combine([(lab, sc, w) for (lab, sc), w in zip(scores, weight, strict=True)], band)
    for b in sorted(mentioned - set(out)):
        out[b] = ("unsupported", 0.0)
    for b in plan.positionless:
        out.setdefault(b, whole if whole is not None else ("unsupported", 0.0))
    return out


def brand_sentiments_batch(
    texts: Sequence[str],
    hits: Sequence[Sequence[BrandHit]],
    score_fn: ScoreFn,
    *,
    neutral_band: float = 0.05,
) -> list[dict[str, tuple[SentimentLabel, float]]]:
    """:func:`brand_sentiments` for many posts with a single ``score_fn`` call over all clauses."""
    plans: list[_Plan | None] = []
    unique: dict[str, int] = {}
    for text, hs in zip(texts, hits, strict=True):
        if not hs:
            plans.append(None)
            continue
        plan = _plan(text, hs)
        plans.append(plan)
        for c in plan.clauses:
            unique.setdefault(text[c.start : c.end], len(unique))
    ordered = list(unique)
    results = score_fn(ordered) if ordered else []
    if len(results) != len(ordered):
        raise ValueError(f"score_fn returned {len(results)} results for {len(ordered)} clauses")
    out: list[dict[str, tuple[SentimentLabel, float]]] = []
    for text, maybe in zip(texts, plans, strict=True):
        if maybe is None:
            out.append({})
            continue
        scores = [results[unique[text[c.start : c.end]]] for c in maybe.clauses]
        out.append(_attribute(maybe, [(lab, float(sc)) for lab, sc in scores], neutral_band))
    return out


def brand_sentiments(
    text: str,
    hits: Sequence[BrandHit],
    score_fn: ScoreFn,
    *,
    neutral_band: float = 0.05,
) -> dict[str, tuple[SentimentLabel, float]]:
    """Sentiment ``(label, score)`` toward each brand in ``hits`` (score signed, in [-1, 1]).

    ``score_fn(clauses) -> [(label, score), ...]`` scores sentences; labels are
    ``positive``/``negative``/``neutral`` (``unsupported`` clauses are ignored). A brand whose
    clauses are all unsupported gets ``("unsupported", 0.0)``.
    """
    return brand_sentiments_batch([text], [hits], score_fn, neutral_band=neutral_band)[0]
