"""``hypermicro voices``: replay a JSONL file of posts and list the current emerging voices.

The same tracker, the same order (whole seconds, then post id), the same brand-owned accounts and
each post id once, as the worker: the listing equals the worker's stored snapshot for the same posts.  Each line is either a raw post in the interchange form (taken to be about ``--subject``) or an
enriched post (``{"post": {...}, "brands": [...], "topics": [...]}``) whose brand and topic ids
are its subjects.  The live API lists the same ranking from ClickHouse snapshots.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from pipeline.core.schema import RawPost
from pipeline.core.settings import load_settings

__all__ = ["command", "replay_file"]


def _subjects(line: dict[str, Any], subject: str) -> tuple[Any, list[str]]:
    if isinstance(line.get("post"), dict):
        subs = ["*"]
        subs += [b["brand_id"] for b in line.get("brands", []) if isinstance(b, dict) and b.get("brand_id")]
        subs += [t["topic_id"] for t in line.get("topics", []) if isinstance(t, dict) and t.get("topic_id")]
        return RawPost.model_validate(line["post"]), list(dict.fromkeys(subs))
    return RawPost.model_validate(line), list(dict.fromkeys(["*", subject]))


def replay_file(posts: Path, subject: str = "*",
                own_accounts: dict[str, set[str]] | None = None) -> tuple[Any, list[Any]]:
    """Replay ``posts`` in time order; return the tracker and every rising-voice alert.
    ``own_accounts`` (subject -> handles) are never ranked, as in the worker."""
    from pipeline.detect.voices import VoiceTracker, first_copies

    with posts.open(encoding="utf-8") as fh:
        parsed = [_subjects(json.loads(line), subject) for line in fh if line.strip()]
    items = first_copies(parsed, lambda item: item[0].id)
    # whole seconds then id: the order the live path replays stored posts in
    items.sort(key=lambda x: (x[0].created_at.replace(microsecond=0), x[0].id))
    tracker = VoiceTracker(own_accounts=own_accounts)
    alerts = []
    for post, subs in items:
        alerts.extend(tracker.observe(post, subs))
    return tracker, alerts


def command(
    posts: Path = typer.Option(..., "--posts", help="JSONL file of posts (interchange or enriched form)."),
    subject: str = typer.Option("*", "--subject", help="Brand or topic id; '*' = all posts."),
    k: int = typer.Option(20, "--k", help="How many voices to list."),
) -> None:
    """Print the current emerging voices of a subject, with the reasons, after replaying a file.
    The brands file's own handles (``HYPERMICRO_BRANDS_FILE``) are left out, as in the worker."""
    from pipeline.detect.live_voices import own_accounts_from_brands

    tracker, alerts = replay_file(posts, subject, own_accounts_from_brands(load_settings().brands_file))
    rows = tracker.ranking(subject, k=k)
    typer.echo(f"{'#':>2}  {'handle':<20} {'author_id':<22} {'score':>6} {'growth':>6} {'reach':>6}  reasons")
    for i, r in enumerate(rows, 1):
        typer.echo(f"{i:>2}  {(r.handle or '-')[:20]:<20} {r.author_id[:22]:<22} {r.score:6.2f} "
                   f"{r.growth:6.1f} {r.reach:6.1f}  {r.reasons[0]}")
        for reason in r.reasons[1:]:
            typer.echo(f"{'':>62}  {reason}")
    n_alerts = sum(1 for a in alerts if a.subject == subject)
    typer.echo(f"subject={subject} voices={len(rows)} rising_alerts={n_alerts}")
