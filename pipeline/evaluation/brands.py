"""``hypermicro eval brands``: brand-matching precision/recall on labelled real text.

Accepted CSV formats (detected from the header):

* Sanders corpus (``Topic, Sentiment, TweetId, TweetDate, TweetText``): ``Topic`` is the brand
  the tweet was collected for and is taken as the single gold brand;
* generic: ``text`` plus ``brand`` (one id, may be empty) or ``brands`` (``;``-separated ids,
  may be empty: a negative example where any match is a false positive).

Per brand: TP = predicted and gold, FP = predicted but not gold, recall = TP / rows whose gold
holds the brand. The last printed line is the micro average over brands.
"""

from __future__ import annotations

import csv as csvlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import typer

from models.base import BrandMatcher, PostInput
from pipeline.core.brands import load_brands
from pipeline.core.schema import SentimentLabel


@dataclass(frozen=True)
class GoldRow:
    text: str
    brands: frozenset[str]
    sentiment: str | None = None  # toward the gold brand(s), when the CSV has it


@dataclass
class BrandScore:
    tp: int = 0
    fp: int = 0
    support: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    per_brand: dict[str, BrandScore] = field(default_factory=dict)
    micro: BrandScore = field(default_factory=BrandScore)
    rules: Counter[str] = field(default_factory=Counter)
    n: int = 0
    posts_per_s: float = 0.0
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, brand, text)


def read_gold(path: Path) -> list[GoldRow]:
    """Read a Sanders-format or generic ``text``/``brand(s)`` CSV into gold rows."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csvlib.DictReader(fh)
        cols = set(reader.fieldnames or [])
        if {"Topic", "TweetText"} <= cols:
            return [
                GoldRow(r["TweetText"], frozenset({r["Topic"].strip().lower()}), r.get("Sentiment"))
                for r in reader
            ]
        if "text" in cols and ("brand" in cols or "brands" in cols):
            key = "brands" if "brands" in cols else "brand"
            return [
                GoldRow(
                    r["text"],
                    frozenset(b.strip() for b in (r[key] or "").split(";") if b.strip()),
                    r.get("sentiment") or None,
                )
                for r in reader
            ]
    raise typer.BadParameter(
        f"{path}: unknown CSV format {sorted(cols)}; expected Sanders columns (Topic, TweetText) "
        "or 'text' with 'brand' or 'brands'"
    )


def evaluate(rows: list[GoldRow], matcher: BrandMatcher, brand_ids: list[str]) -> Report:
    """Match every row once and score predictions against the gold brands."""
    report = Report(per_brand={b: BrandScore() for b in brand_ids}, n=len(rows))
    t0 = time.perf_counter()
    predictions = matcher.match([PostInput(text=r.text) for r in rows])
    report.posts_per_s = len(rows) / max(time.perf_counter() - t0, 1e-9)
    for row, hits in zip(rows, predictions, strict=True):
        predicted = {h.brand_id for h in hits}
        report.rules.update(h.rule for h in hits)
        for b in row.brands:
            report.per_brand.setdefault(b, BrandScore()).support += 1
        for b in predicted:
            score = report.per_brand.setdefault(b, BrandScore())
            if b in row.brands:
                score.tp += 1
            else:
                score.fp += 1
                report.errors.append(("false", b, row.text))
        for b in row.brands - predicted:
            report.errors.append(("missed", b, row.text))
    for s in report.per_brand.values():
        report.micro.tp += s.tp
        report.micro.fp += s.fp
        report.micro.support += s.support
    return report


def vader_score_fn() -> Callable[[list[str]], list[tuple[SentimentLabel, float]]]:
    """VADER compound score as a sentence scorer (labels at the usual +-0.05)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def score(texts: list[str]) -> list[tuple[SentimentLabel, float]]:
        out: list[tuple[SentimentLabel, float]] = []
        for t in texts:
            c = float(vader.polarity_scores(t)["compound"])
            out.append(("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral", c))
        return out

    return score


def sentiment_check(
    rows: list[GoldRow], matcher: BrandMatcher
) -> dict[str, tuple[float, float, int]]:
    """Macro-recall and accuracy of whole-post vs brand-targeted VADER toward the gold brand.

    Uses rows with a positive/negative/neutral label and one gold brand that was matched;
    ``{name: (macro_recall, accuracy, n)}`` for ``whole``, ``targeted`` and the same two on
    the posts where more than one brand was matched (``*_multi``).
    """
    from models.brands.targeted import brand_sentiments_batch

    labels = ("negative", "neutral", "positive")
    rows = [r for r in rows if r.sentiment in labels and len(r.brands) == 1]
    hits = matcher.match([PostInput(text=r.text) for r in rows])
    score = vader_score_fn()
    targeted = brand_sentiments_batch([r.text for r in rows], hits, score)
    whole = score([r.text for r in rows])
    pairs: dict[str, list[tuple[str, str]]] = {
        "whole": [],
        "targeted": [],
        "whole_multi": [],
        "targeted_multi": [],
    }
    for row, hs, tgt, w in zip(rows, hits, targeted, whole, strict=True):
        (brand,) = row.brands
        if brand not in tgt:
            continue
        gold = row.sentiment or ""
        multi = len({h.brand_id for h in hs}) > 1
        for name, pred in (("whole", w[0]), ("targeted", tgt[brand][0])):
            pairs[name].append((pred, gold))
            if multi:
                pairs[name + "_multi"].append((pred, gold))
    out = {}
    for name, ps in pairs.items():
        recalls = [
            sum(p == g for p, g in ps if g == lab) / max(1, sum(g == lab for _, g in ps))
            for lab in labels
        ]
        acc = sum(p == g for p, g in ps) / max(1, len(ps))
        out[name] = (sum(recalls) / len(labels), acc, len(ps))
    return out


def command(
    csv: Path = typer.Option(
        ..., "--csv", help="Labelled CSV: Sanders full-corpus.csv or text,brand(s)."
    ),
    brands: Path = typer.Option(..., "--brands", help="Brands YAML to evaluate."),
    show_errors: int = typer.Option(
        0, "--show-errors", help="Print up to N misses and N false hits per brand."
    ),
    sentiment: bool = typer.Option(
        False, "--sentiment", help="Also compare whole-post and brand-targeted VADER sentiment."
    ),
) -> None:
    """Print per-brand precision/recall/F1 and, last, the micro averages."""
    from models.brands.matcher import SpacyBrandMatcher

    configs = load_brands(brands)
    ids = [b.id for b in configs]
    rows = read_gold(csv)
    unknown = sorted({b for r in rows for b in r.brands} - set(ids))
    if unknown:
        typer.echo(f"warning: gold brands not in {brands}: {unknown} (counted as misses)")
    matcher = SpacyBrandMatcher(configs)
    report = evaluate(rows, matcher, ids)
    typer.echo(
        f"{'brand':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'tp':>7}{'fp':>7}{'support':>9}"
    )
    for b, s in sorted(report.per_brand.items()):
        typer.echo(
            f"{b:<16}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}{s.tp:>7}{s.fp:>7}{s.support:>9}"
        )
    typer.echo("hits by rule: " + ", ".join(f"{k}={v}" for k, v in report.rules.most_common()))
    typer.echo(
        f"speed: {report.posts_per_s:,.0f} posts/s (one cold pass, wall clock, {len(configs)} brands; "
        "see benchmarks/bench_brands.py)"
    )
    if show_errors:
        for kind in ("missed", "false"):
            for b in sorted(report.per_brand):
                sample = [t for k, bb, t in report.errors if k == kind and bb == b][:show_errors]
                for t in sample:
                    typer.echo(f"  {kind:<6} {b:<12} {' '.join(t.split())[:140]}")
    if sentiment:
        for name, (macro, acc, n) in sentiment_check(rows, matcher).items():
            typer.echo(f"sentiment {name:<15} macro_recall={macro:.4f} accuracy={acc:.4f} n={n}")
    m = report.micro
    typer.echo(f"precision={m.precision:.4f} recall={m.recall:.4f} f1={m.f1:.4f} n={report.n}")
