"""``hypermicro eval voices``: replay a scenario through :class:`VoiceTracker` and score it.

Metrics (subject ``"*"``):

- ``r_precision``: share of planted emerging authors among the top k of the final ranking
  (k = number planted), taken at the time of the last post;
- ``recall_30m``: share of planted authors whose first rising-voice alert at or after their
  ``emerges_at`` comes within 30 minutes of it;
- ``median_delay_min``: median delay from ``emerges_at`` to that first alert, over planted
  authors alerted at any delay; ``nan`` when none was alerted;
- ``false_alerts``: number of *distinct* non-planted authors that got a rising-voice alert.

The brand's own accounts are taken from the truth when it names them (``own_accounts``,
``brand_accounts`` or ``brand.account_id``/``brand.handle``); otherwise the tracker has to
cope with the brand account as one more big steady account.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from pipeline.core.schema import RawPost

__all__ = ["command", "evaluate", "load_posts", "own_accounts_from_truth"]


def _parse_dt(v: str | float | int) -> datetime:
    if isinstance(v, int | float):
        return datetime.fromtimestamp(float(v), tz=UTC)
    dt = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def load_posts(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file of interchange-form posts (blank lines skipped)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def own_accounts_from_truth(truth: dict[str, Any]) -> dict[str, set[str]]:
    """Brand-owned author ids/handles the truth names, for every subject (``"*"``)."""
    own: set[str] = set()
    for key in ("own_accounts", "brand_accounts"):
        vals = truth.get(key)
        if isinstance(vals, str):
            own.add(vals)
        elif isinstance(vals, Iterable):
            own.update(str(v) for v in vals if v)
    brand = truth.get("brand")
    if isinstance(brand, dict):
        for key in ("account_id", "author_id", "handle"):
            if brand.get(key):
                own.add(str(brand[key]))
    for key in ("brand_account", "brand_account_id"):
        if truth.get(key):
            own.add(str(truth[key]))
    return {"*": own} if own else {}


def evaluate(posts: list[dict[str, Any]], truth: dict[str, Any], config: Any = None,
             *, use_own_accounts: bool = True) -> dict[str, Any]:
    """Replay ``posts`` (interchange dicts) and score against ``truth``; return metrics and details."""
    from pipeline.detect.voices import VoiceConfig, VoiceTracker, first_copies

    cfg = config if isinstance(config, VoiceConfig) else VoiceConfig(**(config or {}))
    own = own_accounts_from_truth(truth) if use_own_accounts else {}
    tracker = VoiceTracker(cfg, own_accounts=own)
    parsed = first_copies([RawPost.model_validate(p) for p in posts], lambda p: p.id)
    parsed.sort(key=lambda p: p.created_at)
    alerts = []
    for post in parsed:
        alerts.extend(tracker.observe(post, ("*",)))
    for a in alerts:  # an alert on a not-yet-known handle is about the account that handle turned out to be
        if a.author_id.startswith("@"):
            a.author_id = tracker.resolve(a.author_id)

    planted = {str(e["author_id"]): _parse_dt(e["emerges_at"]) for e in truth.get("emerging", [])}
    k = len(planted)
    end = parsed[-1].created_at if parsed else None
    ranking = tracker.ranking("*", now=end, k=max(k, 20))
    top = [r.author_id for r in ranking[:k]]
    r_precision = (sum(a in planted for a in top) / k) if k else float("nan")

    first_alert: dict[str, datetime] = {}
    for a in alerts:
        t_em = planted.get(a.author_id)
        if t_em is not None and a.at >= t_em and a.author_id not in first_alert:
            first_alert[a.author_id] = a.at
    delays = {a: (t - planted[a]).total_seconds() / 60.0 for a, t in first_alert.items()}
    recall = (sum(d <= 30.0 for d in delays.values()) / k) if k else float("nan")
    median_delay = statistics.median(delays.values()) if delays else float("nan")
    false_authors = sorted({a.author_id for a in alerts if a.author_id not in planted})
    return {
        "r_precision": r_precision,
        "recall_30m": recall,
        "median_delay_min": median_delay,
        "false_alerts": len(false_authors),
        "n_alerts": len(alerts),
        "delays_min": delays,
        "false_alert_authors": false_authors,
        "alerts": alerts,
        "ranking": ranking,
        "planted": planted,
    }


def format_last_line(m: dict[str, Any]) -> str:
    """The figures line: ``r_precision=0.xx recall_30m=0.xx median_delay_min=x.x false_alerts=N``."""
    md = m["median_delay_min"]
    md_s = "nan" if md is None or (isinstance(md, float) and math.isnan(md)) else f"{md:.1f}"
    return (f"r_precision={m['r_precision']:.2f} recall_30m={m['recall_30m']:.2f} "
            f"median_delay_min={md_s} false_alerts={int(m['false_alerts'])}")


def command(
    posts: Path = typer.Option(..., "--posts", help="JSONL file of interchange-form posts."),
    truth: Path = typer.Option(..., "--truth", help="truth.json with the planted emerging authors."),
) -> None:
    """Replay a scenario through the emerging-voices tracker and print its scores (last line)."""
    m = evaluate(load_posts(posts), json.loads(truth.read_text(encoding="utf-8")))
    for a, t in sorted(m["planted"].items(), key=lambda x: x[1]):
        d = m["delays_min"].get(a)
        typer.echo(f"planted {a} emerges {t:%H:%M} first_alert_delay_min="
                   f"{'none' if d is None else f'{d:.1f}'}")
    for a in m["false_alert_authors"]:
        typer.echo(f"false_alert {a}")
    for i, r in enumerate(m["ranking"][:10], 1):
        mark = "*" if r.author_id in m["planted"] else " "
        typer.echo(f"{i:2d}{mark} {r.handle or r.author_id:<18} score={r.score:7.2f} | {'; '.join(r.reasons[:2])}")
    typer.echo(f"alerts={m['n_alerts']}")
    typer.echo(format_last_line(m))


def evaluate_seeds(seeds: Iterable[int], config: Any = None, **scenario_kwargs: Any) -> dict[str, Any]:
    """Mean metrics over generated scenarios (``pipeline.evaluation.scenario``), one per seed."""
    from pipeline.evaluation.scenario import generate_scenario

    per_seed = {}
    for seed in seeds:
        posts, truth = generate_scenario(seed, **scenario_kwargs)
        m = evaluate(posts, truth, config)
        per_seed[seed] = {k: m[k] for k in ("r_precision", "recall_30m", "median_delay_min", "false_alerts")}
    keys = ("r_precision", "recall_30m", "median_delay_min", "false_alerts")
    mean = {}
    for k in keys:
        vals = [v[k] for v in per_seed.values() if not (isinstance(v[k], float) and math.isnan(v[k]))]
        mean[k] = sum(vals) / len(vals) if vals else float("nan")
    return {"mean": mean, "per_seed": per_seed,
            "max_false_alerts": max((v["false_alerts"] for v in per_seed.values()), default=0)}


def seeds_command(
    seeds: str = typer.Option("1000,1001,1002,1003,1004", "--seeds", help="Comma-separated scenario seeds."),
    families: str = typer.Option("default", "--families",
                                 help="Comma-separated scenario families (see pipeline.evaluation.scenario.FAMILIES)."),
) -> None:
    """Evaluate on generated scenarios for several seeds and families; per-seed lines, then one
    line per family with mean recall, median delay over seeds and the largest false-alert count."""
    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    for family in [f.strip() for f in families.split(",") if f.strip()]:
        res = evaluate_seeds(seed_list, family=family)
        for seed, m in res["per_seed"].items():
            typer.echo(f"family={family} seed={seed} {format_last_line(m)}")
        mean = res["mean"]
        delays = [m["median_delay_min"] for m in res["per_seed"].values() if not math.isnan(m["median_delay_min"])]
        typer.echo(f"family={family} mean r_precision={mean['r_precision']:.2f} recall_30m={mean['recall_30m']:.2f} "
                   f"median_delay_min={statistics.median(delays) if delays else float('nan'):.1f} "
                   f"false_alerts={mean['false_alerts']:.2f} max_false_alerts={res['max_false_alerts']}")


if __name__ == "__main__":  # python -m pipeline.evaluation.voices --seeds 3001,3002 --families default,slow_ramp
    typer.run(seeds_command)
