"""``hypermicro eval buzz``: replay a post file through the worker's tagging, counting and spike
detection (no Kafka) and score the negative-spike alerts against known episodes.

Posts (the replay connector's JSON Lines interchange form) are sorted by ``created_at`` and
enriched in batches by the same :class:`pipeline.enrich.Enricher` the worker builds from
settings (brand matching, brand-targeted sentiment); per-brand buckets are counted with the
worker's semantics (:mod:`pipeline.detect.buckets`) and fed in event-time order to
:class:`pipeline.detect.spikes.SpikeMonitor` with the global sensitivity from settings and the
per-brand ``sensitivity`` of the brands file. Deterministic.

Scoring (:func:`score_alerts`): an episode is detected when an alert of its brand is raised at
``at`` in ``[start - 30 min, end]``; its delay is the earliest such ``at - start`` (0 if
earlier); an alert is false when no episode of its brand lies within
``[start - 2 h, end + 2 h]`` of it. Only brands listed in the truth file are scored.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from pipeline.core.brands import BrandConfigError, load_brands
from pipeline.core.schema import RawPost
from pipeline.core.settings import Settings, load_settings
from pipeline.detect.buckets import BrandBucket, BucketCounter

if TYPE_CHECKING:  # the command module stays cheap to import (models load inside run)
    from pipeline.detect.spikes import SpikeMonitor
    from pipeline.enrich import Enricher

log = logging.getLogger(__name__)

__all__ = [
    "BuzzAlert",
    "BuzzScore",
    "Episode",
    "command",
    "detect",
    "load_posts",
    "load_truth",
    "run",
    "score_alerts",
]

EARLY = timedelta(minutes=30)  # an alert this long before an episode starts still detects it
NEAR = timedelta(hours=2)  # an alert this close to an episode of its brand is not false


@dataclass(frozen=True)
class Episode:
    brand: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class BuzzAlert:
    """One negative-spike alert as written to ``alerts.jsonl``."""

    brand: str
    at: datetime
    severity: str
    observed: float
    expected: float
    window_s: int

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["at"] = self.at.isoformat().replace("+00:00", "Z")
        return d


@dataclass
class BuzzScore:
    episodes: int
    detected: int
    delays_min: list[float]
    false_alerts: int
    alerts: int
    per_episode: list[tuple[Episode, float | None]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.detected / self.episodes if self.episodes else math.nan

    @property
    def median_delay_min(self) -> float:
        return statistics.median(self.delays_min) if self.delays_min else math.nan

    def line(self) -> str:
        return (
            f"episodes={self.episodes} detected={self.detected} recall={self.recall:.3f} "
            f"median_delay_min={self.median_delay_min:.1f} false_alerts={self.false_alerts} "
            f"alerts={self.alerts}"
        )


def _parse_time(text: str) -> datetime:
    """ISO 8601 (``Z`` accepted); naive times are UTC."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def load_truth(path: Path | str) -> tuple[list[str], list[Episode]]:
    """Read ``{"brands": [...], "episodes": [{"brand", "start", "end"}, ...]}`` (extra keys allowed)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        brands = [str(b) for b in data["brands"]]
        episodes = [
            Episode(str(e["brand"]), _parse_time(e["start"]), _parse_time(e["end"]))
            for e in data["episodes"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a valid episodes file ({type(exc).__name__}: {exc})") from exc
    unknown = sorted({e.brand for e in episodes} - set(brands))
    if unknown:
        raise ValueError(f"{path}: episodes of brands not listed in 'brands': {unknown}")
    return brands, episodes


def score_alerts(
    alerts: Sequence[BuzzAlert], brands: Sequence[str], episodes: Sequence[Episode]
) -> BuzzScore:
    """Score alerts against episodes (rules in the module docstring)."""
    scored = [a for a in alerts if a.brand in set(brands)]
    per_episode: list[tuple[Episode, float | None]] = []
    delays: list[float] = []
    for ep in episodes:
        hits = [a.at for a in scored if a.brand == ep.brand and ep.start - EARLY <= a.at <= ep.end]
        delay = max(0.0, (min(hits) - ep.start).total_seconds() / 60) if hits else None
        per_episode.append((ep, delay))
        if delay is not None:
            delays.append(delay)
    false = sum(
        1
        for a in scored
        if not any(
            ep.brand == a.brand and ep.start - NEAR <= a.at <= ep.end + NEAR for ep in episodes
        )
    )
    return BuzzScore(len(episodes), len(delays), delays, false, len(scored), per_episode)


def load_posts(path: Path | str) -> tuple[list[Any], list[tuple[int, str]]]:
    """Valid posts of a JSONL/CSV replay file sorted by ``created_at`` (stable), and the
    invalid records as ``(line, error)``.

    Records are read by the replay connector and validated as :class:`RawPost`. The worker's
    wall-clock age window on ``created_at`` is deliberately not applied: an evaluation replays
    history, and detection runs on event time.
    """
    from pydantic import ValidationError

    from connectors.file_replay import _error_text, iter_records

    posts = []
    invalid: list[tuple[int, str]] = []
    for lineno, _raw, record in iter_records(Path(path)):
        try:
            if isinstance(record, bytes):
                posts.append(RawPost.model_validate_json(record))
            elif "__invalid__" in record:
                raise ValueError(record["__invalid__"])
            else:
                posts.append(RawPost.model_validate(record))
        except (ValidationError, ValueError) as exc:
            invalid.append((lineno, _error_text(exc)))
    posts.sort(key=lambda p: p.created_at)
    return posts, invalid


def count_buckets(posts: Sequence[RawPost], enricher: Enricher, bucket_s: int, batch: int) -> list[BrandBucket]:
    """Enrich posts in batches (in order) and count per-brand buckets as the worker stores them."""
    counter = BucketCounter(bucket_s)
    for i in range(0, len(posts), batch):
        counter.add(enricher.enrich(posts[i : i + batch]))
    return list(counter.buckets())


def detect(buckets: Iterable[BrandBucket], monitor: SpikeMonitor) -> list[BuzzAlert]:
    """Feed buckets (event-time order) to a :class:`SpikeMonitor`; one alert per detection."""
    alerts = []
    for b in buckets:
        det = monitor.update(f"brand:{b.brand}", b.start, b.negative, b.total)
        if det is not None:
            alerts.append(BuzzAlert(b.brand, det.at, det.severity, det.observed, det.expected,
                                    det.window_s))
    return alerts


def run(posts_file: Path, brands_file: Path, settings: Settings | None = None) -> tuple[list[BuzzAlert], dict[str, Any]]:
    """Replay ``posts_file`` through the worker's enrichment, counting and detection."""
    from pipeline.detect.spikes import configured_monitors
    from pipeline.enrich import build_enricher

    settings = settings or load_settings(brands_file=brands_file)
    brands = load_brands(brands_file)
    posts, invalid = load_posts(posts_file)
    for lineno, err in invalid[:20]:
        log.warning("%s:%d: invalid post skipped: %s", posts_file, lineno, err)
    enricher = build_enricher(settings)
    buckets = count_buckets(posts, enricher, settings.spike_bucket_s, settings.batch_max)
    monitor = configured_monitors(settings.spike_ratio, settings.spike_excess_per_hour, brands)(settings.spike_bucket_s)
    info = {"posts": len(posts), "invalid": len(invalid), "buckets": len(buckets),
            "brand_ids": [b.id for b in brands]}
    return detect(buckets, monitor), info


def command(
    posts: Path = typer.Option(..., "--posts", help="Posts in the replay connector's JSON Lines form."),
    brands: Path = typer.Option(..., "--brands", help="Brands YAML (docs/brands.md)."),
    truth: Path = typer.Option(..., "--truth", help='EPISODES.json: {"brands": [...], "episodes": [{"brand", "start", "end"}]}.'),
    out: Path | None = typer.Option(None, "--out", help="Folder for alerts.jsonl."),
) -> None:
    """Replay posts through tagging and spike detection; last line: episodes, recall, delay, false alerts."""

    try:
        truth_brands, episodes = load_truth(truth)
        alerts, info = run(posts, brands)
    except (ValueError, BrandConfigError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    missing = sorted(set(truth_brands) - set(info["brand_ids"]))
    if missing:
        typer.echo(f"error: {truth}: brands not in {brands}: {missing}", err=True)
        raise typer.Exit(2)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "alerts.jsonl").open("w", encoding="utf-8") as fh:
            for a in alerts:
                fh.write(json.dumps(a.to_json()) + "\n")
    score = score_alerts(alerts, truth_brands, episodes)
    typer.echo(f"posts={info['posts']} invalid={info['invalid']} buckets={info['buckets']}")
    for ep, delay in score.per_episode:
        got = "missed" if delay is None else f"delay_min={delay:.0f}"
        typer.echo(f"episode {ep.brand} {ep.start:%Y-%m-%dT%H:%MZ}..{ep.end:%H:%MZ} {got}")
    for a in alerts:
        typer.echo(f"alert {a.brand} at={a.at:%Y-%m-%dT%H:%MZ} {a.severity} "
                   f"observed={a.observed:.0f} expected={a.expected:.3g} window_s={a.window_s}")
    typer.echo(score.line())
