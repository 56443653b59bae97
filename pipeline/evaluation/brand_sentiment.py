"""``hypermicro eval brand-sentiment``: predicted vs human negative share per brand on a labelled stream.

The share of negative posts about a brand is what dashboards show and what spikes count, so
this checks it the way the worker computes it: the brand matcher finds the brands of each
post, the post is encoded once, and each brand takes the post's sentiment, or the
brand-targeted sentiment (:mod:`models.brands.targeted`, clauses scored by the same scorer)
when the post mentions more than one brand. Only posts whose human-labelled brand is matched
count (that is what a dashboard counts); the matched share of labelled posts is printed.

Accepted CSVs (detected from the header): Sanders ``full-corpus.csv`` (``Topic``,
``Sentiment``, ``TweetText``; ``irrelevant`` skipped), CrowdFlower Apple DFE (``sentiment`` 1/3/5,
``text``; ``not_relevant`` skipped; brand ``apple``) and CrowdFlower GOP debate ``Sentiment.csv``
(``candidate``, ``sentiment``, ``text``; brand = the candidate's surname, "No candidate
mentioned" skipped).
"""

from __future__ import annotations

import csv as csvlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer

from models.base import BrandMatcher, Embedder, SentimentScorer
from pipeline.core.brands import load_brands
from pipeline.core.schema import SentimentLabel

CLASSES = ("negative", "neutral", "positive")
_APPLE_LABELS = {"1": "negative", "3": "neutral", "5": "positive"}


@dataclass(frozen=True)
class BrandPost:
    """A post labelled by people with the brand it is about and its sentiment toward it."""

    text: str
    brand: str
    label: str  # negative / neutral / positive


@dataclass(frozen=True)
class ShareRow:
    """Per-brand comparison: posts counted, matched share, human vs predicted negative share."""

    brand: str
    n: int
    matched: float
    human_negative: float
    predicted_negative: float

    @property
    def error(self) -> float:
        return self.predicted_negative - self.human_negative


def read_brand_stream(path: Path) -> list[BrandPost]:
    """Labelled posts of a Sanders, Apple DFE or GOP debate CSV (format from the header)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csvlib.DictReader(fh)
        cols = set(reader.fieldnames or [])
        rows = list(reader)
    out: list[BrandPost] = []
    if {"Topic", "Sentiment", "TweetText"} <= cols:
        for r in rows:
            lab = r["Sentiment"].strip().lower()
            if lab in CLASSES:
                out.append(BrandPost(r["TweetText"], r["Topic"].strip().lower(), lab))
        return out
    if {"_unit_id", "sentiment", "text"} <= cols:
        for r in rows:
            lab = _APPLE_LABELS.get(r["sentiment"].strip())
            if lab is not None:
                out.append(BrandPost(r["text"], "apple", lab))
        return out
    if {"candidate", "sentiment", "text"} <= cols:
        for r in rows:
            cand, lab = r["candidate"].strip(), r["sentiment"].strip().lower()
            if cand and cand != "No candidate mentioned" and lab in CLASSES:
                out.append(BrandPost(r["text"], cand.split()[-1].lower(), lab))
        return out
    raise typer.BadParameter(
        f"{path}: unknown CSV format {sorted(cols)}; expected Sanders (Topic, Sentiment, TweetText), "
        "Apple DFE (_unit_id, sentiment, text) or GOP debate (candidate, sentiment, text)"
    )


def brand_labels(posts: Sequence[BrandPost], matcher: BrandMatcher, scorer: SentimentScorer, embedder: Embedder,
                 batch_size: int = 256) -> list[str | None]:
    """The worker's sentiment label toward each post's labelled brand; None where it is not matched."""
    from models.base import PostInput
    from models.brands.targeted import brand_sentiments_batch

    def score_fn(clauses: list[str]) -> list[tuple[SentimentLabel, float]]:
        out: list[tuple[SentimentLabel, float]] = []
        for s in range(0, len(clauses), batch_size):
            chunk = clauses[s : s + batch_size]
            out.extend((r.label, r.score) for r in scorer.score(chunk, embedder.encode(chunk)))
        return out

    texts = [p.text for p in posts]
    hits = matcher.match([PostInput(text=t) for t in texts])
    whole = score_fn(texts)
    multi = [i for i, hs in enumerate(hits) if len({h.brand_id for h in hs}) > 1]
    targeted = brand_sentiments_batch([texts[i] for i in multi], [hits[i] for i in multi], score_fn)
    per_brand: dict[int, dict[str, tuple[SentimentLabel, float]]] = dict(zip(multi, targeted, strict=True))
    labels: list[str | None] = []
    for i, (post, hs) in enumerate(zip(posts, hits, strict=True)):
        if post.brand not in {h.brand_id for h in hs}:
            labels.append(None)
            continue
        labels.append(per_brand.get(i, {}).get(post.brand, whole[i])[0])
    return labels


def share_table(posts: Sequence[BrandPost], predicted: Sequence[str | None]) -> list[ShareRow]:
    """Per brand (most posts first): human vs predicted negative share over the matched posts."""
    brands: dict[str, list[tuple[str, str | None]]] = {}
    for p, lab in zip(posts, predicted, strict=True):
        brands.setdefault(p.brand, []).append((p.label, lab))
    rows = []
    for b, pairs in brands.items():
        kept = [(g, lab) for g, lab in pairs if lab is not None]
        human = float(np.mean([g == "negative" for g, _ in kept])) if kept else 0.0
        pred = float(np.mean([lab == "negative" for _, lab in kept])) if kept else 0.0
        rows.append(ShareRow(b, len(kept), len(kept) / len(pairs), human, pred))
    return sorted(rows, key=lambda r: -r.n)


def command(
    csv: Path = typer.Option(..., "--csv", help="Labelled brand stream: Sanders, Apple DFE or GOP debate CSV."),
    brands: Path = typer.Option(..., "--brands", help="Brands YAML whose ids name the labelled brands."),
    model: str = typer.Option("default", "--model", help="Sentiment scorer name in the model registry."),
    embedder: str = typer.Option("onnx-minilm", "--embedder", help="Encoder whose one pass feeds the scorer."),
    min_posts: int = typer.Option(30, "--min-posts", help="Leave out brands with fewer matched posts (too noisy)."),
) -> None:
    """Print per-brand human vs predicted negative share; last line: mean and max absolute error."""
    from models.brands.matcher import SpacyBrandMatcher
    from models.factories import registry
    from pipeline.enrich import build_embedder

    posts = read_brand_stream(csv)
    configs = load_brands(brands)
    unknown = sorted({p.brand for p in posts} - {b.id for b in configs})
    if unknown:
        raise typer.BadParameter(f"labelled brands not in {brands}: {unknown}")
    enc = build_embedder(embedder)
    labels = brand_labels(posts, SpacyBrandMatcher(configs), registry.create("sentiment", model), enc)
    rows = [r for r in share_table(posts, labels) if r.n >= min_posts]
    typer.echo(f"{'brand':<12}{'posts':>7}{'matched':>9}{'human_neg':>11}{'pred_neg':>10}{'error':>8}")
    for r in rows:
        typer.echo(f"{r.brand:<12}{r.n:>7}{r.matched:>9.3f}{r.human_negative:>11.3f}"
                   f"{r.predicted_negative:>10.3f}{r.error:>+8.3f}")
    errs = [abs(r.error) for r in rows]
    within = sum(e <= 0.05 for e in errs)
    typer.echo(f"model={model} brands={len(rows)} mean_abs_error={np.mean(errs) if errs else 0.0:.4f} "
               f"max_abs_error={max(errs, default=0.0):.4f} within_5pt={within}")
