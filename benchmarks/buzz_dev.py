"""Dev figures for the negative-spike detector on streams built by ``benchmarks/buzz_streams.py``.

    .venv/bin/python benchmarks/buzz_dev.py --streams /tmp/buzz apple gop sanders apple-inj ...

Tagging is the slow part, so each stream's per-brand bucket counts (the worker's tagging and
counting, exactly what ``hypermicro eval buzz`` computes) are cached in ``<stream>/buckets-<models>.json`` (keyed by the encoder graph, sentiment head and matcher code);
the detector then runs on them in seconds. Prints, per stream and in total, the ``eval buzz``
figures, false alerts per brand-week, and how the model-negative hourly counts track the
human ones (Pearson r per brand). Report final figures with ``hypermicro eval buzz`` itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.detect.buckets import BrandBucket  # noqa: E402
from pipeline.detect.spikes import Sensitivity, SpikeMonitor  # noqa: E402
from pipeline.evaluation.buzz import count_buckets, detect, load_posts, load_truth, score_alerts  # noqa: E402


def models_fingerprint() -> str:
    """The encoder graph, sentiment head and brand matcher code the counts come from (a change recounts)."""
    import hashlib

    from models.embedding import cache_key
    from models.sentiment import DEFAULT_ARTIFACT

    head = hashlib.sha256((Path(DEFAULT_ARTIFACT) / "head.npz").read_bytes()).hexdigest()
    matcher = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((REPO / "models" / "brands").glob("*.py"))))
    return f"{cache_key()[:16]}-{head[:16]}-{matcher.hexdigest()[:8]}"


def cached_buckets(stream: Path) -> list[BrandBucket]:
    cache = stream / f"buckets-{models_fingerprint()}.json"
    if not cache.exists():
        from pipeline.core.settings import load_settings
        from pipeline.enrich import build_enricher

        settings = load_settings(brands_file=stream / "brands.yaml")
        posts, _ = load_posts(stream / "posts.jsonl")
        buckets = count_buckets(posts, build_enricher(settings), settings.spike_bucket_s, settings.batch_max)
        cache.write_text(json.dumps([[b.brand, b.start.isoformat(), b.total, b.negative] for b in buckets]))
    return [BrandBucket(b, datetime.fromisoformat(t), n, k) for b, t, n, k in json.loads(cache.read_text())]


def tracking(stream: Path, buckets: list[BrandBucket]) -> dict[str, float]:
    """Pearson r of model vs human hourly negative counts per brand (hours of the human grid)."""
    import numpy as np

    human = json.loads((stream / "human_hourly.json").read_text())
    first = datetime.fromisoformat(human["first_hour"].replace("Z", "+00:00"))
    model: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for b in buckets:
        model[b.brand][int((b.start - first).total_seconds() // 3600)] += b.negative
    out = {}
    for brand, counts in human["counts"].items():
        if sum(counts) < 20:
            continue
        m = [model[brand].get(i, 0) for i in range(len(counts))]
        out[brand] = float(np.corrcoef(counts, m)[0, 1]) if np.std(m) > 0 else float("nan")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=Path, required=True)
    ap.add_argument("names", nargs="+")
    ap.add_argument("--ratio", type=float, default=3.0)
    ap.add_argument("--excess", type=float, default=10.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    tot = defaultdict(float)
    delays: list[float] = []
    for name in args.names:
        stream = args.streams / name
        buckets = cached_buckets(stream)
        brands, episodes = load_truth(stream / "episodes.json")
        mon = SpikeMonitor(60, Sensitivity(args.ratio, args.excess))
        alerts = detect(buckets, mon)
        sc = score_alerts(alerts, brands, episodes)
        span_weeks = (max(b.start for b in buckets) - min(b.start for b in buckets)).total_seconds() / (7 * 86400)
        brand_weeks = len(brands) * span_weeks
        r = tracking(stream, buckets) if not name.endswith("-inj") else {}
        print(f"{name}: {sc.line()} brand_weeks={brand_weeks:.2f} "
              f"tracking_r={' '.join(f'{k}:{v:.2f}' for k, v in r.items())}")
        if args.verbose:
            for ep, d in sc.per_episode:
                print(f"   episode {ep.brand} {ep.start:%m-%d %H:%M} {'missed' if d is None else f'{d:.0f} min'}")
            for a in alerts:
                if a.brand in brands:
                    print(f"   alert {a.brand} {a.at:%m-%d %H:%M} obs={a.observed:.0f} exp={a.expected:.2f} w={a.window_s}")
        for k in ("episodes", "detected", "false_alerts", "alerts"):
            tot[k] += getattr(sc, k)
        tot["brand_weeks"] += brand_weeks
        delays += sc.delays_min
    import statistics

    med = statistics.median(delays) if delays else float("nan")
    print(f"TOTAL episodes={tot['episodes']:.0f} detected={tot['detected']:.0f} "
          f"recall={tot['detected'] / max(tot['episodes'], 1):.3f} median_delay_min={med:.1f} "
          f"false_alerts={tot['false_alerts']:.0f} alerts={tot['alerts']:.0f} "
          f"false_per_brand_week={tot['false_alerts'] / max(tot['brand_weeks'], 1e-9):.2f}")


if __name__ == "__main__":
    main()
