"""Full tagging stack throughput on tweet-length English text, one worker, and peak RSS.

    .venv/bin/python benchmarks/bench_tagging.py --posts 4000 [--texts FILE] [--sentiment default]

Runs :class:`pipeline.enrich.Enricher` (language id, brands, one encoder pass, sentiment head,
topics, conversations, near-duplicates) in batches as the worker does, after a warm-up batch.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--texts", type=Path, help="one text per line (default: the generated sample)")
    ap.add_argument("--embedder", default=None)
    ap.add_argument("--sentiment", default=None)
    args = ap.parse_args()

    from pipeline.core.schema import RawPost
    from pipeline.core.settings import load_settings
    from pipeline.enrich import build_enricher
    from pipeline.evaluation.sample import SampleSpec, generate

    rows, _ = generate(SampleSpec(posts=args.posts, spike_posts=args.posts // 20))
    if args.texts:
        texts = [t.strip() for t in args.texts.read_text(encoding="utf-8").splitlines() if t.strip()]
        for i, r in enumerate(rows):
            r["text"] = texts[i % len(texts)]
    posts = [RawPost.model_validate(r) for r in rows]
    overrides = {k: v for k, v in {"embedder": args.embedder, "sentiment_model": args.sentiment}.items() if v}
    t0 = time.perf_counter()
    enricher = build_enricher(load_settings(**overrides))
    enricher.enrich(posts[: args.batch])  # warm-up (ONNX session, spaCy vocab)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for i in range(0, len(posts), args.batch):
        enricher.enrich(posts[i : i + args.batch])
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"load+warm-up {load_s:.1f} s; {len(posts)} posts in {wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"tagging_posts_s={len(posts) / wall:.0f} cpu_s_per_1k={1000 * cpu / len(posts):.2f} peak_rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()
