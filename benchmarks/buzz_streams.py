"""Build dev streams for ``hypermicro eval buzz`` from the shared labelled brand data.

    .venv/bin/python benchmarks/buzz_streams.py --shared ../shared/data --out /tmp/buzz [--inject 6]

For each dataset (apple_dfe_sentiment, gop_debate_sentiment, sanders_brand_sentiment) it writes
``OUT/<name>/posts.jsonl`` (replay interchange form), ``brands.yaml``, ``episodes.json`` (the
crisis rule of ``../shared/data/README.md`` on the *human* labels, :func:`episodes_for`) and
``human_hourly.json`` (human-negative counts per brand and UTC hour, to compare with the
model's). With ``--inject N`` it also writes ``OUT/<name>-inj/`` : the same background plus N
injected negative episodes per dataset (alternating a 1-minute burst and a 1-hour ramp of
copies of that brand's own human-negative posts, sized 1.5x the excess the rule asks of an
hour, inside one UTC hour), with episodes recomputed by the same rule over human labels + injected posts.
Data never goes into the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOUR = timedelta(hours=1)
RULE = "n(h) > max(3 m(h), m(h) + 10), m = median of the previous 48 hourly human-negative counts (all earlier hours when the data spans < 3 days), >= 6 earlier hours; spike hours <= 2 h apart form one episode"

# brands files written the way a comms team would (names, handles, hashtags)
APPLE_BRANDS = {"brands": [{"id": "apple", "name": "Apple", "handles": ["@apple"],
                            "hashtags": ["#aapl", "#apple"], "aliases": ["$AAPL", "AAPL", "iPhone", "iPad", "iTunes"]}]}
GOP = {
    "Donald Trump": ("trump", ["Trump"], ["@realDonaldTrump"]),
    "Jeb Bush": ("bush", ["Jeb", "Bush"], ["@JebBush"]),
    "Ted Cruz": ("cruz", ["Cruz"], ["@tedcruz"]),
    "Ben Carson": ("carson", ["Carson"], ["@RealBenCarson"]),
    "Mike Huckabee": ("huckabee", ["Huckabee"], ["@GovMikeHuckabee"]),
    "Chris Christie": ("christie", ["Christie"], ["@ChrisChristie"]),
    "Marco Rubio": ("rubio", ["Rubio"], ["@marcorubio"]),
    "Rand Paul": ("paul", ["Rand"], ["@RandPaul"]),
    "Scott Walker": ("walker", ["Walker"], ["@ScottWalker"]),
    "John Kasich": ("kasich", ["Kasich"], ["@JohnKasich"]),
}
GOP_BRANDS = {"brands": [{"id": bid, "name": name, "aliases": aliases, "handles": handles}
                         for name, (bid, aliases, handles) in GOP.items()]}


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return 0.0


def load_apple(folder: Path) -> list[dict]:
    out = []
    labels = {"1": "negative", "3": "neutral", "5": "positive"}
    with (folder / "Apple-Twitter-Sentiment-DFE.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out.append({"id": r["_unit_id"], "subject": "apple", "label": labels.get(r["sentiment"], "other"),
                        "conf": _float(r["sentiment:confidence"]), "text": r["text"], "author": r["_unit_id"],
                        "ts": datetime.strptime(r["date"], "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)})
    return out


def load_gop(folder: Path) -> list[dict]:
    out = []
    with (folder / "Sentiment.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out.append({"id": r["tweet_id"], "subject": GOP.get(r["candidate"], (None,))[0],
                        "label": r["sentiment"].lower(), "conf": _float(r["sentiment_confidence"]),
                        "text": r["text"], "author": r["name"] or r["tweet_id"],
                        "ts": datetime.strptime(r["tweet_created"], "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)})
    return out


def load_sanders(folder: Path) -> list[dict]:
    out = []
    with (folder / "full-corpus.csv").open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out.append({"id": r["TweetId"], "subject": r["Topic"], "label": r["Sentiment"], "conf": 1.0,
                        "text": r["TweetText"], "author": r["TweetId"],
                        "ts": datetime.strptime(r["TweetDate"], "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)})
    return out


def _sanders_brands(repo: Path) -> dict:
    import yaml

    return yaml.safe_load((repo / "pipeline" / "config" / "brands.sanders.yaml").read_text())


def dedupe(posts: list[dict]) -> list[dict]:
    """One row per id, the highest confidence winning (first on ties), as make_episodes.py."""
    best: dict[str, dict] = {}
    for p in posts:
        if p["id"] not in best or p["conf"] > best[p["id"]]["conf"]:
            best[p["id"]] = p
    return list(best.values())


def hourly_negatives(posts: list[dict]) -> tuple[datetime, dict[str, list[int]], list[str]]:
    posts = dedupe(posts)
    first = min(p["ts"] for p in posts).replace(minute=0, second=0, microsecond=0)
    last = max(p["ts"] for p in posts).replace(minute=0, second=0, microsecond=0)
    nh = int((last - first) / HOUR) + 1
    subjects = sorted({p["subject"] for p in posts if p["subject"]})
    counts: dict[str, list[int]] = {s: [0] * nh for s in subjects}
    for p in posts:
        if p["subject"] and p["label"] == "negative":
            counts[p["subject"]][int((p["ts"].replace(minute=0, second=0, microsecond=0) - first) / HOUR)] += 1
    return first, counts, subjects


def episodes_for(posts: list[dict]) -> dict:
    """The crisis rule of the shared data README (same as its make_episodes.py)."""
    first, counts, subjects = hourly_negatives(posts)
    span = max(p["ts"] for p in posts) - min(p["ts"] for p in posts)
    short = span < timedelta(days=3)
    episodes = []
    for s in subjects:
        n = counts[s]
        spikes = []
        for i in range(len(n)):
            prev = n[:i] if short else n[max(0, i - 48):i]
            if len(prev) >= 6:
                m = statistics.median(prev)
                if n[i] > max(3 * m, m + 10):
                    spikes.append(i)
        groups: list[list[int]] = []
        for i in spikes:
            if groups and i - groups[-1][-1] <= 2:
                groups[-1].append(i)
            else:
                groups.append([i])
        for g in groups:
            episodes.append({"brand": s, "start": _iso(first + g[0] * HOUR), "end": _iso(first + (g[-1] + 1) * HOUR),
                             "peak_negative_per_hour": max(n[i] for i in g)})
    episodes.sort(key=lambda e: (e["start"], e["brand"]))
    return {"rule": RULE, "brands": subjects, "episodes": episodes}


def interchange(p: dict) -> dict:
    text = p["text"]
    rec = {"id": p["id"], "source": "twitter", "created_at": _iso(p["ts"]), "text": text,
           "lang": "en", "author": {"id": p["author"], "handle": p["author"]}}
    if text.startswith("RT @"):
        rec["repost_of_author"] = text[4:].split(":", 1)[0].split()[0]
    return rec


def inject(posts: list[dict], n: int, seed: int) -> list[dict]:
    """Add ``n`` negative episodes of known shape to the busiest brands, away from real episodes."""
    rng = random.Random(seed)
    first, counts, subjects = hourly_negatives(posts)
    negatives = defaultdict(list)
    for p in dedupe(posts):
        if p["subject"] and p["label"] == "negative" and not p["text"].startswith("RT @"):
            negatives[p["subject"]].append(p)
    real = episodes_for(posts)["episodes"]
    busy = [s for s in subjects if len(negatives[s]) >= 20]
    nh = len(next(iter(counts.values())))
    out = list(posts)
    taken: list[tuple[str, int]] = []
    for k in range(n):
        s = busy[k % len(busy)]
        for _ in range(200):
            h = rng.randrange(8, nh - 1)
            near_real = any(e["brand"] == s and abs((datetime.fromisoformat(e["start"].replace("Z", "+00:00")) - (first + h * HOUR)) / HOUR) < 8 for e in real)
            near_inj = any(b == s and abs(h - h2) < 8 for b, h2 in taken)
            if not near_real and not near_inj:
                break
        taken.append((s, h))
        m = statistics.median(counts[s][max(0, h - 48):h])
        size = round(1.5 * (max(3 * m, m + 10) - m)) + 1
        t0 = first + h * HOUR
        burst_min = rng.randrange(0, 59)
        for j in range(size):
            src = rng.choice(negatives[s])
            if k % 2 == 0:  # a 1-minute burst, somewhere in the hour
                ts = t0 + timedelta(minutes=burst_min, seconds=rng.randrange(60))
            else:  # a 1-hour ramp: density rising linearly
                ts = t0 + timedelta(seconds=3600 * (rng.random() ** 0.5))
            out.append({**src, "id": f"inj{k}-{j}-{src['id']}", "ts": ts, "conf": 1.0,
                        "author": f"inj{k}-{j}"})
    return out


def write(out: Path, posts: list[dict], brands: dict) -> dict:
    import yaml

    out.mkdir(parents=True, exist_ok=True)
    with (out / "posts.jsonl").open("w", encoding="utf-8") as fh:
        for p in sorted(posts, key=lambda p: p["ts"]):
            fh.write(json.dumps(interchange(p)) + "\n")
    (out / "brands.yaml").write_text(yaml.safe_dump(brands, sort_keys=False))
    eps = episodes_for(posts)
    (out / "episodes.json").write_text(json.dumps(eps, indent=1) + "\n")
    first, counts, _ = hourly_negatives(posts)
    (out / "human_hourly.json").write_text(json.dumps({"first_hour": _iso(first), "counts": counts}) + "\n")
    return eps


def main() -> None:
    repo = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--inject", type=int, default=0, help="injected episodes per dataset")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", nargs="*", default=None, help="datasets to build (apple, gop, sanders)")
    args = ap.parse_args()
    sets: dict[str, tuple[Callable[[Path], list[dict]], str, dict]] = {
        "apple": (load_apple, "apple_dfe_sentiment", APPLE_BRANDS),
        "gop": (load_gop, "gop_debate_sentiment", GOP_BRANDS),
        "sanders": (load_sanders, "sanders_brand_sentiment", _sanders_brands(repo)),
    }
    for name, (loader, folder, brands) in sets.items():
        if args.only and name not in args.only:
            continue
        posts = loader(args.shared / folder)
        eps = write(args.out / name, posts, brands)
        print(f"{name}: {len(posts)} posts, {len(eps['episodes'])} episodes")
        if args.inject:
            eps = write(args.out / f"{name}-inj", inject(posts, args.inject, args.seed), brands)
            print(f"{name}-inj: {len(eps['episodes'])} episodes")


if __name__ == "__main__":
    main()
