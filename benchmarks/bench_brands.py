"""Throughput of ``SpacyBrandMatcher.match`` on tweet-length posts with ~20 brands.

    .venv/bin/python benchmarks/bench_brands.py                     # synthetic posts, 20 brands
    .venv/bin/python benchmarks/bench_brands.py --csv ../shared/data/sanders_brand_sentiment/full-corpus.csv

Prints wall-clock and CPU-time rates (CPU time is the steadier figure on a shared machine), the
bare spaCy tokenizer rate on the same texts as a reference, and last a ``name=value`` line.
"""

from __future__ import annotations

import csv
import gc
import random
import sys
import time
from pathlib import Path
from typing import Any

import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = [
    "the",
    "a",
    "my",
    "our",
    "new",
    "old",
    "just",
    "really",
    "so",
    "very",
    "not",
    "never",
    "always",
    "today",
    "again",
    "still",
    "this",
    "that",
    "flight",
    "gate",
    "delay",
    "delayed",
    "luggage",
    "boarding",
    "crew",
    "seat",
    "app",
    "update",
    "battery",
    "screen",
    "phone",
    "store",
    "service",
    "support",
    "refund",
    "order",
    "ticket",
    "price",
    "deal",
    "love",
    "hate",
    "great",
    "awful",
    "slow",
    "fast",
    "broken",
    "fixed",
    "thanks",
    "help",
    "why",
    "when",
    "how",
    "is",
    "was",
    "are",
    "were",
    "be",
    "been",
    "have",
    "has",
    "had",
    "do",
    "did",
    "can",
    "could",
    "will",
    "would",
    "should",
    "must",
    "get",
    "got",
    "make",
    "made",
    "take",
    "took",
    "see",
    "saw",
    "want",
    "need",
    "like",
    "cloud",
    "cafe",
    "naïve",
    "über",
    "coffee",
    "weather",
    "game",
    "music",
    "video",
    "photo",
    "news",
    "week",
    "morning",
    "night",
]


def synthetic_brands(n: int = 20) -> list[dict[str, object]]:
    """``n`` brand definitions shaped like real ones (names, products, handles, hashtags, and
    every few brands a context gate or a query with wildcards and NEAR)."""
    rng = random.Random(7)
    stems = ["nim", "sky", "volt", "zen", "aur", "kor", "lum", "tera", "vex", "quin", "oro", "mira"]
    tails = ["bus", "way", "cart", "ify", "ora", "tek", "io", "lux", "gate", "nova", "path", "labs"]
    out: list[dict[str, object]] = []
    for i in range(n):
        base = f"{stems[i % len(stems)]}{tails[(i * 5) % len(tails)]}{'' if i < 12 else i}"
        b: dict[str, object] = {
            "id": base,
            "name": base.capitalize(),
            "aliases": [
                f"{base.capitalize()} {rng.choice(['Air', 'Pay', 'Go', 'One'])}",
                f"{base}app",
            ],
            "misspellings": [base[:-1] + base[-1] * 2],
            "handles": [f"@{base}", f"@{base}help"],
            "hashtags": [f"#{base}", f"#{base}fail"],
        }
        if i % 4 == 1:
            b["context"] = ["app", "store", "order*", "support"]
        if i % 5 == 2:
            b["query"] = (
                f'"{base} air*" OR ({base} NEAR/5 (flight* OR delay* OR luggage)) NOT "{base} cloud"'
            )
        out.append(b)
    return out


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def synthetic_posts(brands: list[dict[str, object]], n: int, seed: int = 1) -> list[str]:
    """Tweet-length texts (15-30 tokens); about 30% mention one or two brands in some form."""
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(12, 24))]
        if rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                b = rng.choice(brands)
                forms = [str(b["name"])] + [str(v) for key in ("aliases", "handles", "hashtags", "misspellings")
                                            for v in _as_list(b[key])]
                words.insert(rng.randrange(len(words)), str(rng.choice(forms)))
        if rng.random() < 0.3:
            words.append(f"http://t.co/{rng.randrange(16**8):08x}")
        if rng.random() < 0.3:
            words.insert(0, f"@user{rng.randrange(10_000)}")
        texts.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ""]))
    return texts


def _rate(fn, n: int, repeats: int) -> tuple[float, float]:
    best_wall = best_cpu = 0.0
    for _ in range(repeats):
        gc.collect()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        best_wall, best_cpu = max(best_wall, n / w), max(best_cpu, n / max(c, 1e-9))
    return best_wall, best_cpu


def command(
    posts: int = typer.Option(
        20_000, "--posts", help="Synthetic posts to match (ignored with --csv)."
    ),
    csv_path: Path | None = typer.Option(
        None, "--csv", help="Use real texts: Sanders CSV (TweetText) or a 'text' column."
    ),
    brands_path: Path | None = typer.Option(
        None, "--brands", help="Brands YAML instead of the 20 synthetic brands."
    ),
    repeats: int = typer.Option(3, "--repeats", help="Timed passes; the best is reported."),
) -> None:
    """Print posts/s of match() (warm vocabulary) and of its first stages alone."""
    from models.base import PostInput
    from models.brands import SpacyBrandMatcher
    from pipeline.core.brands import load_brands, parse_brands

    specs = synthetic_brands()
    configs = (
        load_brands(brands_path) if brands_path else parse_brands({"brands": specs}, "synthetic")
    )
    if csv_path:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        texts = [r.get("TweetText") or r.get("text") or "" for r in rows]
    else:
        texts = synthetic_posts(specs, posts)
    items = [PostInput(text=t) for t in texts]
    matcher = SpacyBrandMatcher(configs)
    t0 = time.perf_counter()
    hits = matcher.match(items)  # cold pass: builds the vocabulary
    cold = len(items) / (time.perf_counter() - t0)
    wall, cpu = _rate(lambda: matcher.match(items), len(items), repeats)
    tokenizer: Any = matcher._nlp.tokenizer
    tok_wall, tok_cpu = _rate(lambda: [None for _ in tokenizer.pipe(texts)], len(texts), repeats)
    phrase = matcher._phrase
    ph_wall, ph_cpu = _rate(lambda: [phrase(d) for d in tokenizer.pipe(texts)], len(texts), repeats)
    n_tokens = sum(len(d) for d in tokenizer.pipe(texts[:2000])) / min(len(texts), 2000)
    matched = sum(1 for h in hits if h)
    typer.echo(
        f"{len(items)} posts, {n_tokens:.1f} tokens/post, {len(configs)} brands, {matcher!r}"
    )
    typer.echo(f"posts with a brand: {matched} ({matched / max(len(items), 1):.1%})")
    typer.echo(f"match() cold pass: {cold:,.0f} posts/s")
    typer.echo(f"match() warm: {wall:,.0f} posts/s wall, {cpu:,.0f} posts/s CPU time")
    typer.echo(f"bare tokenizer: {tok_wall:,.0f} posts/s wall, {tok_cpu:,.0f} posts/s CPU time")
    typer.echo(
        f"tokenizer + PhraseMatcher only: {ph_wall:,.0f} posts/s wall, {ph_cpu:,.0f} posts/s CPU time"
    )
    typer.echo(
        f"posts_per_s={wall:.0f} posts_per_cpu_s={cpu:.0f} brands={len(configs)} n={len(items)}"
    )


if __name__ == "__main__":
    typer.run(command)
