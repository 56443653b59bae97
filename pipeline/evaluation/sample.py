"""Generate the bundled sample stream: a few thousand posts about the demo brands with one
planted negative spike, written in the JSONL interchange form (no external data needed)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_BRAND_NAMES = {
    "nimbus": ["Nimbus Air", "@nimbusair", "#nimbusair", "Nimbus Airlines"],
    "skyway": ["Skyway", "@skywayair", "Skyway Airlines"],
    "voltcart": ["Voltcart", "@voltcart", "#voltcart"],
}
_POSITIVE = [
    "Loved my flight with {b} today, the crew was so friendly",
    "{b} upgraded me for free, best service ever",
    "Smooth boarding and great coffee on {b} this morning",
    "Really impressed with how {b} handled my booking change",
    "Shoutout to {b} support, they fixed my issue in minutes",
    "Just got my new {b}, it drives beautifully and charges fast",
]
_NEUTRAL = [
    "Flying {b} to Denver tomorrow, anyone know the baggage rules?",
    "Does {b} have wifi on the short routes?",
    "Reading the {b} quarterly report today",
    "{b} announced a new route to Lisbon starting in spring",
    "Comparing {b} fares for the holidays",
    "Picked up a {b} brochure at the expo",
]
_NEGATIVE = [
    "{b} lost my luggage again, absolutely terrible service",
    "Stuck at the gate for three hours, {b} won't tell us anything. Awful.",
    "Worst experience ever with {b}, rude staff and no refund",
    "{b} cancelled my flight last minute and the hotline hangs up. Disgusting.",
    "Never flying {b} again, they ruined our vacation",
    "Furious at {b}, overbooked and they kicked us off the plane",
]
_SPIKE = [
    "{b} just stranded hundreds of us overnight with no hotel, this is a disgrace",
    "Horrible: {b} flight evacuated, staff screaming, nobody explains anything",
    "{b} is a disaster today, cancelled everything and blamed the passengers",
    "Absolutely unacceptable, {b} left families with kids sleeping on the floor",
    "Boycott {b}. They treated disabled passengers terribly tonight",
]
_OTHER = [
    "Beautiful sunset over the bay tonight",
    "Anyone have a good lasagna recipe?",
    "The match last night was incredible",
    "Coffee first, then emails",
    "New album drops Friday and I can't wait",
]


@dataclass(frozen=True)
class SampleSpec:
    posts: int = 3000
    duration: timedelta = timedelta(hours=8)
    spike_brand: str = "nimbus"
    spike_at: timedelta = timedelta(hours=7, minutes=10)
    spike_minutes: int = 6
    spike_posts: int = 180
    seed: int = 7


def generate(spec: SampleSpec = SampleSpec(), start: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Posts (time ordered) and a truth dict ``{"spike": {"brand", "start", "end"}}``."""
    rng = random.Random(spec.seed)
    start = (start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)).astimezone(UTC)
    authors = [(f"u{i}", f"user{i}", int(rng.lognormvariate(4.5, 1.5))) for i in range(600)]
    posts: list[dict[str, Any]] = []
    n_background = spec.posts - spec.spike_posts
    for i in range(n_background):
        t = start + spec.duration * rng.random()
        r = rng.random()
        if r < 0.12:
            text, brand = rng.choice(_OTHER), None
        else:
            brand = rng.choices(list(_BRAND_NAMES), weights=[5, 3, 2])[0]
            tmpl = rng.choices([_POSITIVE, _NEUTRAL, _NEGATIVE], weights=[4, 4, 1.5])[0]
            text = rng.choice(tmpl).format(b=rng.choice(_BRAND_NAMES[brand]))
        posts.append(_post(f"bg{i}", t, text, rng.choice(authors), rng))
    spike_start = start + spec.spike_at
    for j in range(spec.spike_posts):
        t = spike_start + timedelta(seconds=rng.random() * spec.spike_minutes * 60)
        text = rng.choice(_SPIKE).format(b=rng.choice(_BRAND_NAMES[spec.spike_brand]))
        posts.append(_post(f"sp{j}", t, text, rng.choice(authors), rng))
    posts.sort(key=lambda p: p["created_at"])
    truth = {"spike": {"brand": spec.spike_brand, "start": spike_start.isoformat(),
                       "end": (spike_start + timedelta(minutes=spec.spike_minutes)).isoformat()}}
    return posts, truth


def _post(pid: str, t: datetime, text: str, author: tuple[str, str, int], rng: random.Random) -> dict[str, Any]:
    return {
        "id": pid, "source": "sample", "created_at": t.isoformat(), "text": text, "lang": "en",
        "author": {"id": author[0], "handle": author[1], "followers": author[2]},
        "reply_to_author": None, "mentions": [], "repost_of_author": None, "quote_of_author": None,
        "engagement": {"likes": rng.randint(0, 20), "reposts": rng.randint(0, 3), "replies": rng.randint(0, 3)},
    }


def write_sample(path: Path, spec: SampleSpec = SampleSpec(), start: datetime | None = None) -> dict[str, Any]:
    """Write the sample JSONL (and ``<name>.truth.json`` beside it); returns the truth."""
    posts, truth = generate(spec, start)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for p in posts:
            fh.write(json.dumps(p) + "\n")
    path.with_suffix(".truth.json").write_text(json.dumps(truth, indent=2))
    return truth


_WORDS = [
    "morning", "coffee", "match", "album", "recipe", "weekend", "garden", "train", "city", "river", "movie",
    "podcast", "sunset", "lunch", "project", "meeting", "concert", "book", "rain", "market", "bike", "school",
]


def mixed(posts: int, reposts: float, relevant: float, seed: int = 11) -> list[dict[str, Any]]:
    """A stream shaped like a firehose: ``relevant`` of the posts mention a demo brand, and
    ``reposts`` of all posts copy an earlier post (``RT @author: text``). Every original text is
    distinct (a numbered tail), so only real copies can reuse tags."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    authors = [(f"u{i}", f"user{i}", int(rng.lognormvariate(4.5, 1.5))) for i in range(2000)]
    rows: list[dict[str, Any]] = []
    for i in range(posts):
        t = start + timedelta(seconds=i * 0.05)
        author = rng.choice(authors)
        if rows and rng.random() < reposts:
            orig = rng.choice(rows[-500:])
            row = _post(f"mx{i}", t, f"RT @{orig['author']['handle']}: {orig['text']}", author, rng)
            row["repost_of_author"] = orig["author"]["id"]
        elif rng.random() < relevant:
            brand = rng.choice(list(_BRAND_NAMES))
            tmpl = rng.choices([_POSITIVE, _NEUTRAL, _NEGATIVE], weights=[4, 4, 1.5])[0]
            text = f"{rng.choice(tmpl).format(b=rng.choice(_BRAND_NAMES[brand]))} ({rng.choice(_WORDS)} {i})"
            row = _post(f"mx{i}", t, text, author, rng)
        else:
            text = f"{rng.choice(_OTHER)} {' '.join(rng.sample(_WORDS, 3))} {i}"
            row = _post(f"mx{i}", t, text, author, rng)
        rows.append(row)
    return rows
