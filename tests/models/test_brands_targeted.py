"""Brand-targeted sentiment: clause splitting and per-brand attribution."""

from __future__ import annotations

import re

import pytest

from models.base import BrandHit
from models.brands.targeted import (
    SWITCH_PRIOR,
    brand_sentiments,
    brand_sentiments_batch,
    split_clauses,
)

POS = {"better", "great", "love", "awesome", "best", "fast", "happy", "reliable"}
NEG = {"worse", "awful", "hate", "terrible", "slow", "broken", "lost", "sucks", "regret", "crashes"}


def toy(texts: list[str]) -> list[tuple[str, float]]:
    """Deterministic lexicon scorer: (#pos - #neg) / #opinion words."""
    out = []
    for t in texts:
        words = re.findall(r"[a-z]+", t.lower())
        p, n = sum(w in POS for w in words), sum(w in NEG for w in words)
        score = (p - n) / max(1, p + n)
        out.append(("positive" if score > 0 else "negative" if score < 0 else "neutral", score))
    return out


def hits(text: str, *brands: str) -> list[BrandHit]:
    out = []
    for b in brands:
        for m in re.finditer(re.escape(b), text):
            out.append(BrandHit(b.lower(), b, m.start(), m.end(), "name"))
    return out


def labels(text: str, *brands: str) -> dict[str, str]:
    return {b: lab for b, (lab, _) in brand_sentiments(text, hits(text, *brands), toy).items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Switched from Acme to Zeta, so much better", {"acme": "negative", "zeta": "positive"}),
        ("switched from Acme to Zeta and I regret it", {"acme": "positive", "zeta": "negative"}),
        ("Acme is way better than Zeta", {"acme": "positive", "zeta": "negative"}),
        ("Acme is worse than Zeta.", {"acme": "negative", "zeta": "positive"}),
        ("Acme is great but Zeta is terrible", {"acme": "positive", "zeta": "negative"}),
        ("Unlike Acme, Zeta is reliable", {"acme": "negative", "zeta": "positive"}),
        ("Zeta is fast compared to Acme", {"acme": "negative", "zeta": "positive"}),
        ("I love Acme. Zeta crashes all the time.", {"acme": "positive", "zeta": "negative"}),
        ("Ditched Acme for Zeta last week", {"acme": "negative", "zeta": "positive"}),
        ("Acme and Zeta are both terrible", {"acme": "negative", "zeta": "negative"}),
    ],
)
def test_comparisons_and_contrasts(text: str, expected: dict[str, str]) -> None:
    assert labels(text, "Acme", "Zeta") == expected


def test_neutral_switch_still_prefers_the_destination() -> None:
    out = brand_sentiments(
        "Moving from Acme to Zeta today",
        hits("Moving from Acme to Zeta today", "Acme", "Zeta"),
        toy,
    )
    assert out == {"zeta": ("positive", SWITCH_PRIOR), "acme": ("negative", -SWITCH_PRIOR)}


def test_single_brand_takes_brandless_sentences_and_filler_does_not_dilute() -> None:
    text = "Got the new Acme yesterday. Screen is broken. Shipping was on time."
    assert brand_sentiments(text, hits(text, "Acme"), toy)["acme"] == ("negative", -1.0)


def test_contrast_clause_weighs_more() -> None:
    text = "Acme is great but slow"
    label, score = brand_sentiments(text, hits(text, "Acme"), toy)["acme"]
    assert label == "negative" and -1 < score < 0


def test_unsupported_and_no_hits() -> None:
    def unsupported(texts: list[str]) -> list[tuple[str, float]]:
        return [("unsupported", 0.0) for _ in texts]

    assert brand_sentiments("Acme es genial", hits("Acme es genial", "Acme"), unsupported) == {
        "acme": ("unsupported", 0.0)
    }
    assert brand_sentiments("nothing here", [], toy) == {}


def test_batch_scores_each_distinct_clause_once() -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> list[tuple[str, float]]:
        calls.append(list(texts))
        return toy(texts)

    texts = ["Acme is great", "Acme is great", "no brand", "Zeta sucks but Acme is great"]
    out = brand_sentiments_batch(texts, [hits(t, "Acme", "Zeta") for t in texts], counting)
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0]))
    assert out[2] == {} and out[3] == {"zeta": ("negative", -1.0), "acme": ("positive", 1.0)}


def test_brands_only_in_a_trailing_tag_list_get_the_whole_post() -> None:
    text = "Gates sucks at predictions! All talk. #Acme #Zeta"
    assert labels(text, "Acme", "Zeta") == {"acme": "negative", "zeta": "negative"}
    text = "Zeta is great! #Acme #Zeta"  # Zeta has its own clause; Acme only the tag list
    assert brand_sentiments(text, hits(text, "Acme", "Zeta"), toy) == {
        "zeta": ("positive", 1.0),
        "acme": ("positive", 1.0),
    }


def test_position_less_hit_gets_the_whole_post() -> None:
    text = "Love this so much"
    out = brand_sentiments(text, [BrandHit("acme", "", 0, 0, "query")], toy)
    assert out == {"acme": ("positive", 1.0)}


def test_clause_spans() -> None:
    text = "Switched from A to B, so much better! However C is slow; D vs E"
    pieces = [(text[c.start : c.end], c.cue) for c in split_clauses(text)]
    assert pieces == [
        ("Switched", ""),
        ("from A", "switch_from"),
        ("to B,", "switch_to"),
        ("so much better!", "result"),
        ("However C is slow", "contrast"),
        ("D", "sep"),
        ("vs E", "sep"),
    ]


def test_realistic_with_vader() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def score(texts: list[str]) -> list[tuple[str, float]]:
        out = []
        for t in texts:
            c = vader.polarity_scores(t)["compound"]
            out.append(("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral", c))
        return out

    text = "Switched from Acme to Zeta last month, so much better. Acme support was awful."
    got = {
        b: lab for b, (lab, _) in brand_sentiments(text, hits(text, "Acme", "Zeta"), score).items()
    }
    assert got == {"acme": "negative", "zeta": "positive"}
    text = "Zeta is way better than Acme"
    got = {
        b: lab for b, (lab, _) in brand_sentiments(text, hits(text, "Acme", "Zeta"), score).items()
    }
    assert got == {"acme": "negative", "zeta": "positive"}
